"""The web app (`rag chat`), split by concern; :mod:`rag.app` is its entry point.

* :mod:`rag.web.page`      what the page carries besides its components: head, CSS, theme
* :mod:`rag.web.render`    untrusted text made safe Markdown: answers, briefings, status lines, timings
* :mod:`rag.web.cards`     the HTML source cards (passage in its document context) and the sources panel
* :mod:`rag.web.params`    request parsing: filters, history, sources
* :mod:`rag.web.uploads`   uploaded files: safe names, staged copies, ingest, a report per file
* :mod:`rag.web.context`   process singletons: one store and one answerer per settings, the app's handles
* :mod:`rag.web.chat`, :mod:`rag.web.briefing`, :mod:`rag.web.documents`, :mod:`rag.web.api`
                           the event handlers of each tab and the named JSON API functions
* :mod:`rag.web.layout`    the Blocks: components (same elem_ids) and the events wiring them to handlers
* :mod:`rag.web.server`    launch options (privacy, auth off loopback) and ``serve``

Only ``layout``, ``server`` and the handler modules import Gradio; nothing here changes the
environment. Go through :mod:`rag.app` (its functions set the offline environment before Gradio
is imported), or call :func:`rag.config.offline_environment` first.
"""
