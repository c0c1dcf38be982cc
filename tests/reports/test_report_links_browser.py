"""What a researcher sees, in a real headless Chromium against a real `mlflow server` (MLflow 3.17's UI):

- the study's saved view lists a run per table row with its mean, spread and seeds, and the runs nest study > row >
  seed;
- report.html inside MLflow's artifact viewer (a blob: iframe sandboxed with allow-scripts only) says how to open its
  links; its links point at the server that shows it (not at the address the report was built with); a plain click
  shows the address instead of blanking the frame; Ctrl+click opens a run's page in a new tab and a middle click on a
  figure's PDF downloads it;
- the same file opened from disk links its PDFs beside it.

Skipped where Chromium, chromedriver or selenium are missing. SHAPCA_SCREENSHOTS=<dir> keeps a PNG of each view.
"""
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from clusters.tracking_server import serve
from reports.build import build_study
from reports.links import runs_url
from reports.table_runs import view_key

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Chromium and chromedriver")
BUILT_FOR = "http://127.0.0.1:9"  # the address the report is built with: the page must not depend on it


def _study(uri: str) -> None:
    """Two rows of two seeds each, as the runner logs them (runs, metrics, predictions)."""
    from ablations.tracking import StudyRuns

    runs = StudyRuns(uri, "links", "smoke", "two rows to look at")
    parent = runs.parent({"report_kind": "main", "report_params": "", "seeds": "1,2", "datasets": "twitter2017"})
    runs.client.log_dict(parent, {"rows": [{"label": v, "overrides": {}, "swept": {}, "components": None,
                                            "datasets": ["twitter2017"]} for v in ("full", "w/o context")],
                                  "report": {"kind": "main"}}, "plan.json")
    for variant, quality in (("full", 0.8), ("w/o context", 0.5)):
        for seed in (1, 2):
            tags = {"variant": variant, "dataset": "twitter2017", "seed": str(seed), "config_hash": variant}
            run_id, _ = runs.child(f"{variant}-{seed}", tags, {"train.seed": seed})
            hits = [int((i * 7 + seed) % 10 < 10 * quality) for i in range(30)]
            lines = [json.dumps({"id": str(i), "tp": h, "fp": 1 - h, "fn": 1 - h}) for i, h in enumerate(hits)]
            f1 = sum(hits) / 30
            for epoch in (1, 2):
                runs.log_metrics(run_id, {"epoch_dev_f1": f1 * epoch / 2, "epoch_train_loss": 1 / epoch}, step=epoch)
            runs.log_metrics(run_id, {f"{s}_{m}": f1 for s in ("dev", "test") for m in ("precision", "recall", "f1")})
            runs.client.log_text(run_id, "\n".join(lines) + "\n", "predictions/test.jsonl")
            runs.finish(run_id, "FINISHED")
    runs.close_parent()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("links")
    with serve(f"sqlite:///{root / 'm.db'}", str(root / "artifacts"), root / "server.log", workers=1) as uri:
        _study(uri)
        paths = build_study("links", uri, out_dir=root / "report", ui_url=BUILT_FOR)
        yield uri, paths


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1800,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver, downloads
    driver.quit()


def _wait(driver, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def _shot(driver, name: str) -> None:
    if os.environ.get("SHAPCA_SCREENSHOTS"):
        driver.save_screenshot(str(Path(os.environ["SHAPCA_SCREENSHOTS"]) / f"{name}.png"))


def _text(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''")


def _ids(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("shapca/links")
    runs = client.search_runs([experiment.experiment_id])
    return client, experiment.experiment_id, {r.data.tags["shapca.role"]: r for r in runs}, runs


def test_the_saved_view_is_the_paper_table_and_runs_nest_study_row_seed(server, browser):
    uri, _ = server
    driver, _ = browser
    client, experiment, roles, runs = _ids(uri)
    rows = [r for r in runs if r.data.tags["shapca.role"] == "row"]
    assert {r.info.run_name for r in rows} == {"full · t17", "w/o context · t17"}
    for trial in (r for r in runs if r.data.tags["shapca.role"] == "trial"):
        row = next(r for r in rows if r.data.tags["variant"] == trial.data.tags["variant"])
        assert trial.data.tags["mlflow.parentRunId"] == row.info.run_id
        assert trial.info.run_name == f"s{trial.data.tags['seed']} · {row.info.run_name}"  # seed first, nested
        assert row.data.tags["mlflow.parentRunId"] == roles["study"].info.run_id
    driver.get(runs_url(uri, experiment, view_key("links", "smoke")))
    table = _wait(driver, lambda: "w/o context · t17" in _text(driver) and _text(driver))
    _shot(driver, "mlflow_row_runs")
    assert table and "full · t17" in table
    for column in ("F1", "F1_std", "n", "dF1", "verdict"):
        assert f"\n{column}\n" in table, column
    worse = next(r for r in rows if r.data.tags["variant"] == "w/o context")
    assert f"{worse.data.metrics['F1']:g}" in table and worse.data.metrics["n"] == 2


def _report_frame(driver, uri: str):
    """Opens report.html in MLflow's artifact viewer and switches into its frame; returns the frame's place."""
    from selenium.common.exceptions import WebDriverException

    client, experiment, roles, _ = _ids(uri)
    parent = roles["study"].info.run_id
    driver.switch_to.default_content()
    driver.get(f"{uri}/#/experiments/{experiment}/runs/{parent}/artifacts/reports/report.html")

    def inside():  # the viewer re-renders while it loads: find the frame again until its page is there
        driver.switch_to.default_content()
        frames = driver.find_elements("css selector", "iframe.mlflow-html-iframe")
        if not frames:
            return None
        try:
            rect, sandbox = frames[0].rect, frames[0].get_attribute("sandbox")
            driver.switch_to.frame(frames[0])
            return (rect, sandbox) if driver.find_elements("id", "in-mlflow") else None
        except WebDriverException:
            return None

    found = _wait(driver, inside)
    assert found, "MLflow's artifact viewer shows report.html in a frame"
    assert found[1] == "allow-scripts"  # what the page has to live with
    return found[0]


def _click(driver, rect, element, button="left", modifiers=0):
    """A real mouse click at the element (CDP input, as a person's click reaches the page)."""
    inner = driver.execute_script("arguments[0].scrollIntoView({block: 'center'});"
                                  "var r = arguments[0].getBoundingClientRect(); return [r.x, r.y, r.height];", element)
    x, y = rect["x"] + inner[0] + 4, rect["y"] + inner[1] + inner[2] / 2  # where it shows, in the top page
    driver.switch_to.default_content()
    for kind in ("mousePressed", "mouseReleased"):
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": button,
                                                            "clickCount": 1, "modifiers": modifiers})


def test_report_links_work_inside_mlflows_artifact_viewer(server, browser):
    uri, _ = server
    driver, downloads = browser
    rect = _report_frame(driver, uri)
    note = driver.find_element("id", "in-mlflow")
    assert note.is_displayed() and "Ctrl+click" in note.text
    run_links = [a for a in driver.find_elements("css selector", "a[data-mlflow]") if "/runs/" in a.get_attribute(
        "href")]
    pdfs = [a for a in driver.find_elements("css selector", "a[data-mlflow]") if a.text == "PDF"]
    assert run_links and pdfs
    assert all(a.get_attribute("href").startswith(uri + "/#/experiments/") for a in run_links)  # not BUILT_FOR
    assert all(a.get_attribute("href").startswith(uri + "/get-artifact?path=reports%2F") for a in pdfs)
    _shot(driver, "report_in_mlflow")

    target = run_links[-1]
    href = target.get_attribute("href")
    target.click()  # a plain click: the sandbox lets it go nowhere, so the page shows the address
    shown = driver.find_element("id", "copy")
    assert shown.is_displayed() and shown.get_attribute("value") == href
    assert driver.execute_script("return location.protocol") == "blob:"  # the frame is still the report
    _shot(driver, "report_plain_click")

    tabs = set(driver.window_handles)
    _click(driver, rect, target, modifiers=2)  # Ctrl+click
    new = _wait(driver, lambda: set(driver.window_handles) - tabs, timeout=20)
    assert new, "Ctrl+click opens the run in a new tab"
    main = driver.current_window_handle
    driver.switch_to.window(new.pop())
    assert driver.current_url == href
    run_id = href.split("/runs/")[1].split("?")[0]
    name = _ids(uri)[0].get_run(run_id).info.run_name
    assert _wait(driver, lambda: name in _text(driver)), "the run's page shows the run"
    _shot(driver, "report_link_opened")
    driver.close()
    driver.switch_to.window(main)

    rect = _report_frame(driver, uri)
    pdf = driver.find_elements("css selector", "a[data-mlflow]")
    pdf = next(a for a in pdf if a.text == "PDF")
    name = pdf.get_attribute("href").split("%2F")[1].split("&")[0]
    _click(driver, rect, pdf, button="middle")
    assert _wait(driver, lambda: (downloads / name).exists(), timeout=20), "a middle click downloads the PDF"
    assert (downloads / name).read_bytes()[:4] == b"%PDF" and run_id


def test_report_links_work_from_disk(server, browser):
    _, paths = server
    driver, _ = browser
    page = next(p for p in paths if p.name == "report.html")
    driver.switch_to.default_content()
    driver.get(page.as_uri())
    assert not driver.find_element("id", "in-mlflow").is_displayed()  # no viewer, no advice
    for a in driver.find_elements("css selector", "a[data-mlflow]"):
        href = a.get_attribute("href")
        if a.text == "PDF":
            assert href.startswith("file://") and Path(href[len("file://"):]).is_file()
        else:
            assert href.startswith(BUILT_FOR + "/#/experiments/")  # the UI the report was built for
