from runner import xid


def test_catalogue_matches_design_table() -> None:
    expected = {79: (100, "node"), 48: (214, "node"), 94: (214, "process"), 95: (999, "node"),
                43: (702, "process"), 74: (220, "node")}
    assert {n: (x.error.code, x.scope.value) for n, x in xid.CATALOGUE.items()} == expected
    peer = xid.CATALOGUE[74].peer_error
    assert peer is not None
    assert peer.code == 217
    assert xid.lookup(1) is None
