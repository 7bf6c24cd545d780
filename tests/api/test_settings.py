"""Settings from PNEUMOSCAN_* variables, and the app factory's refusals to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumoscan.api import create_app
from pneumoscan.api.settings import Settings, SettingsError


def test_defaults_bind_to_loopback_and_keep_data_in_a_data_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({})
    assert s.host == "127.0.0.1" and s.port == 8000 and s.run_dir is None
    assert s.data_dir == (tmp_path / "data").resolve()
    assert s.database_url == f"sqlite:///{(tmp_path / 'data' / 'pneumoscan.db').as_posix()}"
    assert s.web_dir == Path("web/out")
    assert s.flask_config()["MAX_CONTENT_LENGTH"] == 32 * 1024 * 1024


def test_variables_override_the_defaults(tmp_path):
    s = Settings.from_env({
        "PNEUMOSCAN_RUN": "runs/x", "PNEUMOSCAN_DATA_DIR": str(tmp_path), "PNEUMOSCAN_PORT": "9001",
        "PNEUMOSCAN_MAX_UPLOAD_MB": "5", "PNEUMOSCAN_WEB_DIR": "/srv/web",
        "DATABASE_URL": "postgresql+psycopg://u:p@db/pneumoscan",
    })
    assert s.run_dir == Path("runs/x") and s.port == 9001 and s.web_dir == Path("/srv/web")
    assert s.database_url.startswith("postgresql") and s.max_upload_mb == 5
    assert s.flask_config()["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [("PNEUMOSCAN_PORT", "eighty", "not a number"), ("PNEUMOSCAN_PORT", "70000", "between"),
     ("PNEUMOSCAN_MAX_UPLOAD_MB", "-1", "between")],
)
def test_bad_values_name_the_variable(name, value, words):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value) and words in str(info.value)


def test_the_app_will_not_start_without_a_model(tmp_path, monkeypatch):
    monkeypatch.delenv("PNEUMOSCAN_RUN", raising=False)
    with pytest.raises(SettingsError, match="PNEUMOSCAN_RUN"):
        create_app({"DATA_DIR": tmp_path})


def test_the_app_will_not_start_on_a_folder_without_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="pneumoscan train"):
        create_app({"RUN_DIR": tmp_path, "DATA_DIR": tmp_path / "data"})


def test_the_app_reads_its_settings_from_the_environment(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_RUN", str(tiny_run))
    monkeypatch.setenv("PNEUMOSCAN_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("PNEUMOSCAN_MAX_UPLOAD_MB", "3")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    assert (tmp_path / "d" / "pneumoscan.db").is_file()
    assert app.extensions["predictor"].model_version
    assert app.test_client().get("/api/health").status_code == 200


def test_serve_refuses_a_folder_without_a_checkpoint_before_starting_anything(tmp_path):
    from pneumoscan.api.server import serve

    with pytest.raises(FileNotFoundError, match="pneumoscan train"):
        serve(tmp_path, port=0)
    with pytest.raises(FileNotFoundError):
        serve(tmp_path / "missing")


def test_the_cli_reports_a_bad_run_folder_in_one_line(tmp_path, capsys):
    from pneumoscan.cli import main

    assert main(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No checkpoint.pt" in err and "Traceback" not in err


def test_gunicorn_binds_to_loopback_unless_told_otherwise():
    from pneumoscan.api.server import gunicorn_options

    options = gunicorn_options(Settings.from_env({}), workers=2)
    assert options["bind"] == "127.0.0.1:8000" and options["workers"] == 2
    assert options["worker_class"] == "gthread" and options["preload_app"] is True  # workers share the model
