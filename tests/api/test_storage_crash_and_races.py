"""Storage under races and crashes: one report per study however many first requests arrive at once,
no files left by an upload that died between writing and committing, and the 0004 migration cleaning
up duplicate reports that older versions wrote."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading

from sqlalchemy import create_engine, func, select

from pneumoscan.api import create_app
from pneumoscan.api.orm import Report, Study
from pneumoscan.api.storage import downgrade_database, upgrade_database

from .api_helpers import upload
from .auth_helpers import token_for


def test_concurrent_first_requests_for_a_report_agree_on_one_row(app, client, xray_png):
    token = token_for(app, "test-clinician")
    studies = [client.post("/api/studies", data=upload(xray_png(i, i % 2 == 0))).get_json()["id"] for i in range(3)]
    threads_per_study = 6
    barrier = threading.Barrier(threads_per_study * len(studies))
    answers: list[tuple[int, int, int | None]] = []

    def first_request(study_id: int, pdf: bool) -> None:
        own = app.test_client()  # one client per thread, like separate browsers
        own.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        barrier.wait()
        response = own.get(f"/api/reports/{study_id}" + (".pdf" if pdf else ""))
        report_id = response.get_json()["id"] if not pdf and response.status_code == 200 else None
        answers.append((study_id, response.status_code, report_id))

    threads = [threading.Thread(target=first_request, args=(sid, i % 3 == 0))
               for sid in studies for i in range(threads_per_study)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(code for _, code, _ in answers) == [200] * len(threads)
    with app.extensions["pneumoscan"].db.session() as session:
        per_study = dict(session.execute(select(Report.study_id, func.count()).group_by(Report.study_id)).all())
        ids = dict(session.execute(select(Report.study_id, Report.id)).all())
    assert per_study == dict.fromkeys(studies, 1)
    assert all(rid == ids[sid] for sid, _, rid in answers if rid is not None)  # everyone saw the winner


_CRASHING_UPLOAD = textwrap.dedent("""
    import io, os, sys
    from sqlalchemy.orm import Session
    from pneumoscan.api import create_app
    from pneumoscan.serving.predictor import Predictor
    sys.path.insert(0, {tests!r})
    from api.auth_helpers import bearer_client
    run, data = sys.argv[1], sys.argv[2]
    app = create_app({{"TESTING": True, "RUN_DIR": run, "DATA_DIR": data, "WEB_DIR": data + "/no-web"}})
    client = bearer_client(app, "clinician")
    commit = Session.commit
    def die_before_committing_a_study(self):
        if any(type(o).__name__ == "Study" for o in self.identity_map.values()):  # the upload's commit
            os._exit(9)  # like kill -9 or a power cut: no cleanup runs
        return commit(self)
    Session.commit = die_before_committing_a_study
    client.post("/api/studies", data={{"image": (io.BytesIO(open(sys.argv[3], "rb").read()), "x.png")}})
""")


def test_files_of_an_upload_that_crashed_before_committing_are_swept_at_start(tiny_run, predictor, tmp_path,
                                                                               xray_png, caplog):
    data_dir = tmp_path / "data"
    image = tmp_path / "x.png"
    image.write_bytes(xray_png(5, True))
    app = create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": data_dir,
                      "WEB_DIR": tmp_path / "no-web"})
    kept = app.test_client()
    kept.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token_for(app, 'keeper')}"
    assert kept.post("/api/studies", data=upload(xray_png(6, False))).status_code == 201
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*.png"))

    tests_dir = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    crashed = subprocess.run([sys.executable, "-c", _CRASHING_UPLOAD.format(tests=tests_dir), str(tiny_run),
                              str(data_dir), str(image)], capture_output=True, text=True, timeout=300)
    assert crashed.returncode == 9, crashed.stderr[-2000:]
    left = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*.png"))
    orphans = set(left) - set(before)
    assert len(orphans) == 3  # original, display copy, heatmap: written, never committed

    with caplog.at_level(logging.WARNING, logger="pneumoscan.api.storage"):
        restarted = create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": data_dir,
                                "WEB_DIR": tmp_path / "no-web"})
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*.png")) == before
    assert "removed 3 file(s) left by interrupted uploads" in caplog.text
    with restarted.extensions["pneumoscan"].db.session() as session:
        (study,) = session.scalars(select(Study)).all()
        store = restarted.extensions["pneumoscan"].store
        assert store.path(study.image_path).is_file() and store.path(study.display_path).is_file()


def test_migration_0004_keeps_the_first_of_duplicate_reports(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade_database(engine, "0002")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO studies (id, sha256, format, width, height, bit_depth, size_bytes, image_path, "
                     "display_path, uploaded_at) VALUES (1, 'ab', 'png', 1, 1, 8, 1, 'i', 'd', '2024-01-01')")
        conn.execute("INSERT INTO predictions (id, study_id, model_id, model_version, label, probability, threshold, "
                     "created_at) VALUES (1, 1, 'm', 'v', 'NORMAL', 0.1, 0.5, '2024-01-01')")
        for rid in (1, 2, 3):
            conn.execute("INSERT INTO reports (id, study_id, prediction_id, generated_at, notice) "
                         f"VALUES ({rid}, 1, 1, '2024-01-0{rid}', 'n')")
    upgrade_database(engine)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id FROM reports").fetchall() == [(1,)]
        try:
            conn.execute("INSERT INTO reports (study_id, prediction_id, generated_at, notice) "
                         "VALUES (1, 1, '2024-02-01', 'n')")
            raise AssertionError("a second report for the same prediction was accepted")
        except sqlite3.IntegrityError as exc:
            assert "UNIQUE" in str(exc)
    downgrade_database(engine, "0002")
    engine.dispose()
