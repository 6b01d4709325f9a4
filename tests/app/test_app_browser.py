"""The web app in headless Chromium (Debian's /usr/bin/chromium driven by Playwright), fake model.

Run `make browser` first to install Chromium; Playwright never downloads a browser here.
Screenshots go to tests/artifacts/ (git-ignored).
"""
from __future__ import annotations

import ipaddress
import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),  # inside gradio's queue
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

CHROMIUM = Path(os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"]
TIMEOUT = 30_000  # ms


def _loopback(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "devtools"):
        return True
    host = (parsed.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium) to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, served):
    """One page for the whole module (tests run in order, like one user session); records every request."""
    _, url = served
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    requests: list[str] = []

    def guard(route):
        requests.append(route.request.url)
        if _loopback(route.request.url):
            route.continue_()
        else:
            route.abort()  # recorded above and asserted on below; never leave the machine

    context.route("**/*", guard)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    pg.requests = requests  # type: ignore[attr-defined]
    pg.goto(url)
    pg.get_by_text("Ask your documents").first.wait_for()
    yield pg
    context.close()


def shot(page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"app_{name}.png"), full_page=True)


def test_chat_shows_a_streamed_cited_answer_with_source_cards(page, artifacts, seed_qa):
    question, answer = seed_qa
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    bot = page.locator("#chatbot .message.bot, #chatbot [data-testid='bot']").last
    bot.get_by_text("Ryzhenkov").wait_for()
    link = page.locator("#chatbot a.cite").first
    link.wait_for()
    assert link.inner_text() == "[1]"
    assert link.get_attribute("href") == "#src-1-1"
    card = page.locator("#sources #src-1-1")
    card.wait_for()
    assert "Lavrov Visit to Belarus" in card.inner_text()
    assert "000_e3a7af6ccd77722d.txt" in card.inner_text()
    assert "22 November (year unknown)" in card.inner_text()
    mark = card.locator("mark")
    assert "Maxim Ryzhenkov" in mark.inner_text()
    assert card.locator(".src-text").inner_text().strip() != mark.inner_text().strip(), "no surrounding text"
    link.click()
    page.wait_for_function("() => location.hash === '#src-1-1'")
    assert card.evaluate("el => el.classList.contains('src-flash')")
    shot(page, artifacts, "chat")


def test_raw_tokens_stream_then_the_verified_answer_replaces_them(page, fake_llm, seed_qa):
    question, answer = seed_qa
    fake_llm.chunk_delay = 0.25
    try:
        page.locator("#question textarea").fill(question)
        page.locator("#send").click()
        page.locator("#chatbot").get_by_text("▍").first.wait_for()  # the raw text with a cursor
    finally:
        fake_llm.chunk_delay = 0.0
    page.locator("#sources #src-2-1").wait_for()
    assert page.locator("#chatbot").get_by_text("▍").count() == 0
    # the chatbot's own clear button starts a new conversation too
    page.locator("#chatbot button[aria-label='Clear']").first.click()
    page.wait_for_function("() => !document.querySelector('#sources .src-card')")


def test_retrieved_sources_show_at_once_and_timings_under_the_answer(page, artifacts, app_settings, fake_llm, seed_qa):
    """The passages appear while the model is still to write; the verified answer's cards replace them."""
    question, _ = seed_qa
    gate = threading.Event()
    fake_llm.gate = gate  # the model holds its reply until the page has been checked
    try:
        page.locator("#question textarea").fill(question)
        page.locator("#send").click()
        retrieved = page.locator("#sources .src-card.src-retrieved")
        retrieved.first.wait_for()
        assert not gate.is_set() and page.locator("#chatbot a.cite").count() == 0, "the answer was already final"
        assert page.locator("#sources #src-1-1").count() == 0
        assert "retrieved, answer being written" in page.locator("#sources summary").first.inner_text()
        assert retrieved.count() == app_settings.top_k
        assert page.locator("#sources #ret-1-1").count() == 1
        assert any("Ryzhenkov" in t for t in retrieved.locator(".src-text").all_inner_texts())
        assert page.locator("#chatbot").get_by_text("reading the passages").count() >= 1
        shot(page, artifacts, "retrieved_sources")
    finally:
        gate.set()
        fake_llm.gate = None
    page.locator("#sources #src-1-1").wait_for()
    assert page.locator("#sources .src-retrieved").count() == 0
    assert "answer being written" not in page.locator("#sources").inner_text()
    timings = page.locator("#chatbot details.answer-timings").last
    timings.wait_for()
    assert timings.get_attribute("open") is None, "the timings are shown on request only"
    assert not timings.locator("li").first.is_visible()
    timings.locator("summary").click()
    timings.locator("li").first.wait_for(state="visible")
    text = timings.inner_text()
    for step in ("retrieval", "first token", "generation", "verification", "total"):
        assert re.search(rf"^{step}: \d+(\.\d+)? m?s$", text, re.M), text
    shot(page, artifacts, "timings")
    page.locator("#new-conversation").click()
    page.wait_for_function("() => !document.querySelector('#sources .src-card')")

def test_follow_up_keeps_the_conversation_and_new_conversation_clears_it(page, artifacts, fake_llm, seed_qa):
    page.locator("#question textarea").fill(seed_qa[0])
    page.locator("#question textarea").press("Enter")
    page.locator("#sources #src-1-1").wait_for()
    before = len(fake_llm.prompts)
    page.locator("#question textarea").fill("Where did they meet?")
    page.locator("#question textarea").press("Enter")
    page.locator("#sources #src-2-1").wait_for()
    prompts = ["\n".join(str(m.content) for m in p) for p in fake_llm.prompts[before:]]
    assert any("Who did Lavrov meet in Brest?" in p for p in prompts), "history was not passed to the model"
    assert page.locator("#sources details").count() == 2
    shot(page, artifacts, "follow_up")
    page.locator("#chatbot a.cite[href='#src-1-1']").click()  # an older answer's card is folded away
    page.locator("#sources #src-1-1").wait_for(state="visible")
    page.locator("#new-conversation").click()
    page.wait_for_function("() => !document.querySelector('#sources .src-card')")
    assert page.locator("#chatbot a.cite").count() == 0


def test_a_second_session_waits_with_visible_queue_status(page, browser, served, artifacts, fake_llm, seed_qa):
    """One model request at a time: another browser session sees its place in the queue, then its answer."""
    question, _ = seed_qa
    _, url = served
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    other.route("**/*", lambda route: route.continue_() if _loopback(route.request.url) else route.abort())
    try:
        page2 = other.new_page()
        page2.set_default_timeout(TIMEOUT)
        page2.goto(url)
        page2.get_by_text("Ask your documents").first.wait_for()
        fake_llm.delay = 3.0
        started = fake_llm.started
        page.locator("#question textarea").fill(question)
        page.locator("#send").click()
        deadline = time.monotonic() + 10
        while fake_llm.started == started and time.monotonic() < deadline:  # until the model is busy
            page.wait_for_timeout(50)
        assert fake_llm.started > started, "the first request never reached the model"
        page2.locator("#question textarea").fill(question)
        page2.locator("#send").click()
        page2.locator("#chatbot").get_by_text(re.compile(r"queue", re.I)).first.wait_for(timeout=10_000)
        shot(page2, artifacts, "queued")
        fake_llm.delay = 0.0
        page2.locator("#chatbot a.cite").first.wait_for()
        assert page2.locator("#sources #src-1-1").count() == 1, "sessions must not share a conversation"
    finally:
        fake_llm.delay = 0.0
        other.close()
    page.locator("#sources .src-card").first.wait_for()
    page.locator("#new-conversation").click()
    page.wait_for_function("() => !document.querySelector('#sources .src-card')")


def test_bad_date_filter_is_a_message_not_a_traceback(page, artifacts):
    page.get_by_text("Filters").click()
    page.locator("#date-from input, #date-from textarea").first.fill("22 Nov")
    page.locator("#question textarea").fill("Who did Lavrov meet in Brest?")
    page.locator("#send").click()
    status = page.locator("#chat-status")
    status.get_by_text("YYYY-MM-DD").wait_for()
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "File \"" not in body
    shot(page, artifacts, "chat_error")
    page.locator("#date-from input, #date-from textarea").first.fill("")
    page.locator("#new-conversation").click()


def _download_text(page, button) -> str:
    with page.expect_download() as info:
        button.click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def test_conversation_downloads_as_markdown_with_every_turn(page, artifacts, seed_qa):
    question, answer = seed_qa
    button = page.locator("#conversation-download")
    assert not button.is_visible(), "nothing to download before the first answer"
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.locator("#sources #src-1-1").wait_for()
    button.wait_for(state="visible")
    assert "Download conversation (.md)" in button.inner_text()
    text = _download_text(page, button)
    assert text.startswith(f"# Conversation\n\n## {question}\n\n{answer}\n\n### Sources\n\n")
    entry = "- **[1]** Lavrov Visit to Belarus Underlines Common Unity in Belarus-Russia Union State — 22 November (year unknown) — `000_e3a7af6ccd77722d.txt`"
    assert text.count(entry) == 1
    assert re.search(r"^  > .*Ryzhenkov", text, re.M), text  # the cited passage, quoted

    second = "Which official did Lavrov meet in Brest?"
    page.locator("#question textarea").fill(second)
    page.locator("#send").click()
    page.locator("#sources #src-2-1").wait_for()
    deadline = time.monotonic() + 10  # the file is rewritten by the step that follows the answer
    while f"## {second}" not in text and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        text = _download_text(page, button)
    first_turn, second_turn = text.split(f"## {second}\n", 1)
    assert f"## {question}\n" in first_turn and entry in first_turn
    assert second_turn.startswith(f"\n{answer}\n\n### Sources\n") and entry in second_turn
    assert text.count("### Sources") == 2
    shot(page, artifacts, "conversation_download")
    page.locator("#new-conversation").click()
    page.wait_for_function("() => !document.querySelector('#sources .src-card')")
    button.wait_for(state="hidden")


def test_briefing_renders_markdown_with_sources_and_a_download(page, artifacts):
    page.get_by_role("tab", name="Briefing").click()
    page.locator("#timeline input").check()
    page.locator("#whole input").check()
    page.locator("#brief-btn").click()
    heading = page.locator("#briefing h1")
    heading.wait_for()
    assert heading.inner_text().startswith("Timeline")
    page.locator("#briefing h2", has_text="Sources").wait_for()
    assert page.locator("#briefing li").count() >= 3
    page.locator("#brief-sources .src-card mark").first.wait_for()
    download_btn = page.locator("#brief-download")
    download_btn.wait_for()
    with page.expect_download() as info:
        download_btn.click()
    path = info.value.path()
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("# Timeline") and "## Sources" in text
    shot(page, artifacts, "briefing")


def test_documents_table_lists_the_seeds(page):
    page.get_by_role("tab", name="Documents").click()
    page.locator("#documents-table").get_by_test_id("cell-4-0").wait_for()
    text = page.locator("#documents-table").inner_text()
    for name in ("000_e3a7af6ccd77722d.txt", "004_d4300b7bd3a6ac4d.txt", "26 November 2020"):
        assert name in text


def test_upload_lists_the_document_and_shows_rejection_reasons(page, artifacts, tmp_path):
    page.get_by_role("tab", name="Documents").click()

    def table_has(text: str) -> None:
        page.wait_for_function("t => document.querySelector('#documents-table').innerText.includes(t)", arg=text)
    table_has("000_e3a7af6ccd77722d.txt")
    good = tmp_path / "Заметки визита Minsk.txt"
    good.write_text("Trade talks in Minsk\n\nThe trade delegation met officials in Minsk on 3 March 2021 "
                    "to discuss grain exports and rail transit fees.\n", encoding="utf-8")
    empty = tmp_path / "empty notes.txt"
    empty.write_text("")
    page.locator("#upload input[type=file]").set_input_files([str(good), str(empty)])
    status = page.locator("#upload-status")
    status.get_by_text("Заметки визита Minsk.txt").first.wait_for()
    status.get_by_text("empty file").wait_for()
    assert "rejected empty notes.txt: empty file" in status.inner_text()
    page.locator("#docs-note").get_by_text("6 documents").wait_for()
    table_has("Заметки визита Minsk.txt")
    table_has("Trade talks in Minsk")
    shot(page, artifacts, "documents")


def test_remove_document(page, artifacts):
    dropdown = page.locator("#remove-choice input")
    dropdown.click()
    dropdown.fill("Заметки")
    page.get_by_role("option", name="Заметки визита Minsk.txt").click()
    page.locator("#remove-btn").click()
    page.locator("#remove-status").get_by_text("Removed Заметки визита Minsk.txt").wait_for()
    page.wait_for_function("() => !document.querySelector('#documents-table').innerText.includes('Заметки')")
    shot(page, artifacts, "documents_removed")


def test_no_request_left_the_machine(page):
    requests = page.requests  # type: ignore[attr-defined]
    assert requests, "no requests were recorded"
    outside = [u for u in requests if not _loopback(u)]
    assert outside == [], f"requests to non-loopback hosts: {outside}"
    assert not any("fonts.googleapis.com" in u or "fonts.gstatic.com" in u for u in requests)
