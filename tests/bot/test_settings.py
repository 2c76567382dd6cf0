import re
from dataclasses import fields
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from tests.conftest import ROOT


def test_defaults_need_no_configuration(tmp_path):
    settings = load_settings({}, dotenv=tmp_path / "none")
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/lawline.sqlite3")
    assert settings.embedding_model == "use-multilingual-v3"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_environment_wins_over_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("LAWLINE_PORT=9000\nLAWLINE_HOST=0.0.0.0\n", encoding="utf-8")
    settings = load_settings({"LAWLINE_PORT": "8100"}, dotenv=dotenv)
    assert (settings.host, settings.port) == ("0.0.0.0", 8100)


@pytest.mark.parametrize(("name", "value"), [("LAWLINE_PORT", "eighty"), ("LAWLINE_PORT", "70000"),
                                             ("LAWLINE_LOG_LEVEL", "LOUD"),
                                             ("LAWLINE_PUBLIC_URL", "lawline.example.cn"),
                                             ("LAWLINE_ACTION_SECRET", "too-short"),
                                             ("LAWLINE_ACTION_SECRET", "a secret with spaces " + "x" * 32)])
def test_bad_value_fails_at_start_with_its_name(tmp_path, name, value):
    with pytest.raises(SettingsError) as info:
        load_settings({name: value}, dotenv=tmp_path / "none")
    assert info.value.name == name


def test_public_url_defaults_to_the_listening_address(tmp_path):
    local = load_settings({"LAWLINE_PORT": "8100"}, dotenv=tmp_path / "none")
    assert local.public_url == "http://127.0.0.1:8100"
    proxied = load_settings({"LAWLINE_PUBLIC_URL": "https://12348.example.cn/"}, dotenv=tmp_path / "none")
    assert proxied.public_url == "https://12348.example.cn"


def test_settings_are_frozen(tmp_path):
    settings = load_settings({}, dotenv=tmp_path / "none")
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(LAWLINE_[A-Z_]+)`", readme))
    names = set(load_settings({}, dotenv=ROOT / "no.env").env_names)
    assert len(names) == len(fields(Settings)) - 1
    assert names <= documented, names - documented


def test_readme_has_exactly_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", readme, flags=re.S)
    assert blocks and blocks[0].split() == ["make", "run"] and blocks[1].split() == ["make", "test"]
    assert Path(ROOT / ".ci" / "run").read_text(encoding="utf-8").count("make test") == 1


def test_wechat_credentials_are_all_or_nothing(tmp_path):
    with pytest.raises(SettingsError) as info:
        load_settings({"LAWLINE_WECHAT_TOKEN": "t"}, dotenv=tmp_path / "none")
    assert info.value.name == "LAWLINE_WECHAT_APPID"
    with pytest.raises(SettingsError) as info:
        load_settings({"LAWLINE_WECHAT_TOKEN": "t", "LAWLINE_WECHAT_APPID": "a", "LAWLINE_WECHAT_APPSECRET": "s",
                       "LAWLINE_WECHAT_AES_KEY": "short"}, dotenv=tmp_path / "none")
    assert info.value.name == "LAWLINE_WECHAT_AES_KEY"
    settings = load_settings({}, dotenv=tmp_path / "none")
    assert settings.wechat_token is None and settings.wechat_api_base == "https://api.weixin.qq.com"


def test_rasa_is_managed_unless_a_url_is_given(tmp_path):
    managed = load_settings({"LAWLINE_RASA_PORT": "5099"}, dotenv=tmp_path / "none")
    assert managed.rasa_managed and managed.rasa_url == "http://127.0.0.1:5099"
    external = load_settings({"LAWLINE_RASA_URL": "http://10.0.0.5:5005/"}, dotenv=tmp_path / "none")
    assert not external.rasa_managed and external.rasa_url == "http://10.0.0.5:5005"


def test_the_app_and_its_rasa_server_share_the_action_secret(tmp_path, monkeypatch):
    from bot.app import webhook_secret
    from nlu.layout import RasaLayout
    from nlu.process import RasaServer

    monkeypatch.delenv("LAWLINE_ACTION_SECRET", raising=False)
    settings = load_settings({"LAWLINE_VAR_DIR": str(tmp_path)}, dotenv=tmp_path / "none")
    assert settings.action_secret is None
    rasa_env = RasaServer(tmp_path / "m.tar.gz", RasaLayout.default(var_dir=tmp_path), port=5005).environment()
    secret = webhook_secret(settings)
    assert rasa_env["LAWLINE_ACTION_SECRET"] == secret and len(secret) == 64, "generated once, read by both"
    assert (tmp_path / "action.secret").stat().st_mode & 0o777 == 0o600
    assert webhook_secret(settings) == secret
    chosen = "y" * 40
    configured = load_settings({"LAWLINE_VAR_DIR": str(tmp_path), "LAWLINE_ACTION_SECRET": chosen},
                               dotenv=tmp_path / "none")
    assert webhook_secret(configured) == chosen
    assert RasaServer(tmp_path / "m.tar.gz", RasaLayout.default(var_dir=tmp_path), port=5005,
                      env={"LAWLINE_ACTION_SECRET": chosen}).environment()["LAWLINE_ACTION_SECRET"] == chosen
