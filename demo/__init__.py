"""The demo: the whole product on its own machine, with the Microsoft stand-in's demo tenant and a demo team."""
