"""The Blocks: the three tabs' components (their elem_ids are the page's contract with its tests and
users) and the events that wire them to the handlers and the named API.

Model work (answers, briefings, ingest, removal) shares one queue slot (:data:`WORK`), so requests
run one at a time and the others wait with their queue position shown.
"""
from __future__ import annotations

import tempfile
from types import SimpleNamespace
from typing import Any, Callable

import gradio as gr

from rag.config import Settings
from rag.web.api import ApiHandlers
from rag.web.briefing import BriefingHandlers
from rag.web.cards import sources_panel
from rag.web.chat import ChatHandlers, fresh_conversation
from rag.web.context import AppContext
from rag.web.documents import DocumentHandlers
from rag.web.uploads import UPLOAD_TYPES

WORK = "model"  # concurrency group: every request that runs the model or writes the store


def build_app(settings: Settings, answerer_factory: Callable[[], Any] | None = None) -> gr.Blocks:
    """The Gradio Blocks app. ``answerer_factory`` (called once, lazily) replaces the default model."""
    ctx = AppContext.for_settings(settings, answerer_factory)
    downloads = tempfile.TemporaryDirectory(prefix="rag-briefings-")  # removed with the app (Gradio serves copies)
    # delete_cache: uploads and downloads Gradio keeps are removed after a day (checked hourly)
    with gr.Blocks(title="Document briefings", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        gr.Markdown("## Ask your documents\nCited answers and briefings from your own files, entirely offline.")
        conv = gr.State(fresh_conversation())  # per browser session: history, rendered messages, source cards
        pending = gr.State("")  # the question accepted but not yet answered
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = chat_tab(settings, conv, pending)
            with gr.Tab("Briefing", id="briefing"):
                brief = briefing_tab()
            with gr.Tab("Documents", id="documents"):
                docs = documents_tab()
        wire_chat(chat, ChatHandlers(ctx, downloads.name))
        wire_briefing(brief, BriefingHandlers(ctx, downloads.name))
        wire_documents(app, docs, chat.source_filter, DocumentHandlers(ctx))
        wire_api(ApiHandlers(ctx))
    app.queue(default_concurrency_limit=1)
    app.rag_context = ctx  # for tests and embedding
    app.rag_downloads = downloads  # keeps the directory alive as long as the app
    return app


# ----------------------------------------------------------------------------- components

def chat_tab(settings: Settings, conv: gr.State, pending: gr.State) -> SimpleNamespace:
    """The conversation, the question box, its buttons and filters, and the Sources column."""
    top_k_max = max(settings.top_k, min(settings.candidates, 20))
    ui = SimpleNamespace(conv=conv, pending=pending)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ui.chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="chatbot",
                                    feedback_options=None, latex_delimiters=[], buttons=["copy"],
                                    placeholder="Ask a question about your documents.")
            with gr.Row():
                ui.question = gr.Textbox(placeholder="Ask a question…", show_label=False, scale=5,
                                         elem_id="question", max_lines=6, submit_btn=False)
                ui.send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            with gr.Row():
                ui.new_conv = gr.Button("New conversation", size="sm", elem_id="new-conversation")
                ui.conv_file = gr.DownloadButton("Download conversation (.md)", size="sm", visible=False,
                                                 elem_id="conversation-download")
            ui.status = gr.Markdown(elem_id="chat-status")
            with gr.Accordion("Filters", open=False):
                ui.source_filter = gr.Dropdown(label="Only these documents", multiselect=True,
                                               choices=[], elem_id="source-filter")
                with gr.Row():
                    ui.date_from = gr.Textbox(label="Date from", placeholder="YYYY-MM-DD", elem_id="date-from")
                    ui.date_to = gr.Textbox(label="Date to", placeholder="YYYY-MM-DD", elem_id="date-to")
                ui.top_k = gr.Slider(1, top_k_max, value=settings.top_k, step=1,
                                     label="Passages shown to the model", elem_id="top-k")
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            ui.sources = gr.HTML(sources_panel([]), elem_id="sources", js_on_load=None)
    return ui


def briefing_tab() -> SimpleNamespace:
    with gr.Row():
        topic = gr.Textbox(label="Topic", placeholder="e.g. Lavrov's visits to Belarus", scale=4, elem_id="topic")
        with gr.Column(scale=1, min_width=160):
            timeline = gr.Checkbox(label="Timeline", elem_id="timeline")
            whole = gr.Checkbox(label="Whole collection", elem_id="whole")
    return SimpleNamespace(
        topic=topic, timeline=timeline, whole=whole,
        button=gr.Button("Write briefing", variant="primary", elem_id="brief-btn"),
        status=gr.Markdown(elem_id="brief-status"),
        markdown=gr.Markdown(elem_id="briefing", latex_delimiters=[]),
        file=gr.DownloadButton("Download Markdown", visible=False, elem_id="brief-download"),
        cards=gr.HTML("", elem_id="brief-sources", js_on_load=None),
    )


def documents_tab() -> SimpleNamespace:
    ui = SimpleNamespace(
        note=gr.Markdown(elem_id="docs-note"),
        table=gr.Dataframe(headers=["source", "title", "date", "chunks"], datatype=["str", "str", "str", "number"],
                           interactive=False, wrap=True, elem_id="documents-table", type="array",
                           column_count=4, column_widths=["24%", "50%", "17%", "9%"]),
        refresh=gr.Button("Refresh", size="sm"),
        files=gr.File(label="Add documents (.txt, .md, .html, .pdf, .docx)", file_count="multiple",
                      file_types=UPLOAD_TYPES, elem_id="upload"),
        upload_status=gr.Markdown(elem_id="upload-status"),
    )
    with gr.Row():
        ui.remove_choice = gr.Dropdown(label="Remove a document", choices=[], elem_id="remove-choice", scale=4)
        ui.remove = gr.Button("Remove", variant="stop", scale=1, elem_id="remove-btn")
    ui.remove_status = gr.Markdown(elem_id="remove-status")
    return ui


# ----------------------------------------------------------------------------- events

def wire_chat(ui: SimpleNamespace, h: ChatHandlers) -> None:
    """Accept the question at once (unqueued), answer it in the model's slot, then refresh the export."""
    outputs = [ui.chatbot, ui.conv, ui.sources, ui.status, ui.pending]
    gr.on([ui.question.submit, ui.send.click], h.accept, inputs=[ui.question, ui.conv],
          outputs=[ui.chatbot, ui.pending, ui.question], queue=False, api_visibility="private",
          show_progress="hidden").then(
        h.chat, inputs=[ui.pending, ui.conv, ui.source_filter, ui.date_from, ui.date_to, ui.top_k], outputs=outputs,
        concurrency_id=WORK, concurrency_limit=1, api_visibility="private", show_progress_on=[ui.chatbot]).then(
        h.export_conversation, inputs=[ui.conv], outputs=[ui.conv_file], concurrency_limit=None,
        api_visibility="private", show_progress="hidden")
    for restart in (ui.new_conv.click, ui.chatbot.clear):
        restart(h.new_conversation, outputs=outputs, queue=False, api_visibility="private").then(
            h.export_conversation, inputs=[ui.conv], outputs=[ui.conv_file], queue=False, api_visibility="private")


def wire_briefing(ui: SimpleNamespace, h: BriefingHandlers) -> None:
    ui.button.click(h.briefing, inputs=[ui.topic, ui.timeline, ui.whole],
                    outputs=[ui.markdown, ui.file, ui.cards, ui.status],
                    concurrency_id=WORK, concurrency_limit=1, api_visibility="private")


def wire_documents(app: gr.Blocks, ui: SimpleNamespace, source_filter: gr.Dropdown, h: DocumentHandlers) -> None:
    """The table and both dropdowns (removal, the chat's filter) are refreshed on load and after each change."""
    outputs = [ui.table, ui.remove_choice, source_filter, ui.note]
    app.load(h.refresh_documents, inputs=[source_filter], outputs=outputs, concurrency_limit=None,
             api_visibility="private")
    ui.refresh.click(h.refresh_documents, inputs=[source_filter], outputs=outputs, concurrency_limit=None,
                     api_visibility="private")
    ui.files.upload(h.upload, inputs=[ui.files, source_filter], outputs=outputs + [ui.files, ui.upload_status],
                    concurrency_id=WORK, concurrency_limit=1, api_visibility="private")
    ui.remove.click(h.remove, inputs=[ui.remove_choice, source_filter], outputs=outputs + [ui.remove_status],
                    concurrency_id=WORK, concurrency_limit=1, api_visibility="private")


def wire_api(h: ApiHandlers) -> None:
    gr.api(h.ask, api_name="ask", concurrency_id=WORK, concurrency_limit=1)
    gr.api(h.brief, api_name="brief", concurrency_id=WORK, concurrency_limit=1)
    gr.api(h.list_sources, api_name="sources", concurrency_limit=None)
