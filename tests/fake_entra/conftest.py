"""Load the fake_entra fixtures plugin when the top-level conftest has not already."""

PLUGIN = "tests.fake_entra_fixtures"


def pytest_configure(config):
    """Register the plugin once, so the emulator starts once per session."""
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)
