def test_golden_set(baton_case):
    baton_case.check()
