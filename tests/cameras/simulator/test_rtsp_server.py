def test_placeholder():
    import cameras.simulator
