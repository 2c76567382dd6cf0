"""The client's address: ``X-Forwarded-For`` believed only from the proxies named in settings."""

import pytest

from bot.settings import SettingsError, load_settings
from channels.client_address import client_address, parse_trusted_proxies

PROXIES = parse_trusted_proxies("10.0.0.5, 172.16.0.0/12, ::1")


def _scope(peer: str | None, *forwarded_for: str) -> dict:
    headers = [(b"host", b"lawline.example.cn"), *((b"x-forwarded-for", v.encode("latin-1")) for v in forwarded_for)]
    return {"type": "http", "client": (peer, 51000) if peer is not None else None, "headers": headers}


def test_without_trusted_proxies_the_socket_peer_is_the_client_whatever_the_header_says():
    assert client_address(_scope("198.51.100.7", "203.0.113.9"), ()) == "198.51.100.7"
    assert client_address(_scope("10.0.0.5", "203.0.113.9"), ()) == "10.0.0.5"
    # A peer that is not one of the trusted proxies is not believed either.
    assert client_address(_scope("198.51.100.7", "203.0.113.9"), PROXIES) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_first_untrusted_address_from_the_right_is_the_client():
    assert client_address(_scope("10.0.0.5", "203.0.113.9"), PROXIES) == "203.0.113.9"
    # What the client wrote itself is left of the address the proxy appended: ignored.
    assert client_address(_scope("10.0.0.5", "1.1.1.1, 6.6.6.6, 203.0.113.9"), PROXIES) == "203.0.113.9"
    # Two proxies of ours (a network and a host), then the client; several header lines are one list.
    assert client_address(_scope("10.0.0.5", "6.6.6.6, 203.0.113.9", "172.16.3.4"), PROXIES) == "203.0.113.9"
    assert client_address(_scope("::1", "[2001:db8::7]:4431"), PROXIES) == "2001:db8::7"
    assert client_address(_scope("10.0.0.5", "203.0.113.9:51234"), PROXIES) == "203.0.113.9"


def test_the_nearest_known_hop_stands_in_when_the_chain_is_all_ours_or_broken():
    assert client_address(_scope("10.0.0.5"), PROXIES) == "10.0.0.5"  # no header: the proxy itself
    assert client_address(_scope("10.0.0.5", "172.16.0.9"), PROXIES) == "172.16.0.9"
    assert client_address(_scope("10.0.0.5", "not-an-ip"), PROXIES) == "10.0.0.5"
    assert client_address(_scope("10.0.0.5", "6.6.6.6, , 172.16.0.9"), PROXIES) == "172.16.0.9"


def test_odd_peers_are_returned_as_they_are_and_never_trusted():
    assert client_address(_scope(None), PROXIES) is None
    assert client_address(_scope("testclient", "203.0.113.9"), PROXIES) == "testclient"
    assert client_address(_scope("::ffff:10.0.0.5", "203.0.113.9"), PROXIES) == "203.0.113.9"  # mapped IPv4


def test_the_setting_takes_addresses_and_networks_and_refuses_anything_else(tmp_path):
    assert load_settings({}, dotenv=tmp_path / "none").trusted_proxies == ()
    settings = load_settings({"LAWLINE_TRUSTED_PROXIES": " 10.0.0.5 ,172.16.0.0/12,"}, dotenv=tmp_path / "none")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.5/32", "172.16.0.0/12"]
    for bad in ("*", "10.0.0.1/8", "proxy.local"):
        with pytest.raises(SettingsError) as info:
            load_settings({"LAWLINE_TRUSTED_PROXIES": bad}, dotenv=tmp_path / "none")
        assert info.value.name == "LAWLINE_TRUSTED_PROXIES" and bad in info.value.reason


def test_lawline_serve_lets_uvicorn_read_proxy_headers_only_from_the_same_proxies(tmp_path):
    from bot.cli import proxy_options

    # uvicorn's default would trust 127.0.0.1: with no trusted proxies it must not read the headers at all.
    assert proxy_options(load_settings({}, dotenv=tmp_path / "none")) == {"proxy_headers": False,
                                                                          "forwarded_allow_ips": None}
    settings = load_settings({"LAWLINE_TRUSTED_PROXIES": "10.0.0.5,172.16.0.0/12"}, dotenv=tmp_path / "none")
    assert proxy_options(settings) == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.5/32,172.16.0.0/12"}
