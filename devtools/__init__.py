"""Tools for running Lantern's embedded demo and its tests on one machine; never shipped in the image."""
