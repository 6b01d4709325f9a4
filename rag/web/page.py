"""What every page of the app carries besides its components: the head, the CSS and the theme.

Everything is local: system fonts only, no referrer sent, nothing loaded from another host.
"""
from __future__ import annotations

from typing import Any

# Clicking a citation [n] unfolds the (possibly collapsed) answer group holding its source card.
HEAD = """<meta name="referrer" content="no-referrer">
<script>
document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest ? ev.target.closest("a.cite") : null;
  if (!a) return;
  var card = document.getElementById(decodeURIComponent((a.getAttribute("href") || "").slice(1)));
  if (!card) return;
  ev.preventDefault();
  for (var d = card.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
  history.replaceState(null, "", "#" + card.id);
  card.scrollIntoView({behavior: "smooth", block: "nearest"});
  card.classList.remove("src-flash"); void card.offsetWidth; card.classList.add("src-flash");
}, true);
</script>"""

CSS = """
.src-panel { max-height: 640px; overflow-y: auto; }
.src-turn { margin: 0 0 .75em 0; }
.src-turn > summary { cursor: pointer; font-weight: 600; margin-bottom: .4em; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .8em;
            margin: 0 0 .6em 0; background: var(--background-fill-secondary); scroll-margin-top: 1em; }
.src-card:target, .src-card.src-flash { outline: 2px solid var(--color-accent); }
.src-head { font-weight: 600; }
.src-n { color: var(--color-accent); margin-right: .3em; }
.src-meta { font-size: .85em; opacity: .8; margin: .2em 0 .4em 0; }
.src-meta code { font-size: .95em; }
.src-section { font-size: .85em; font-style: italic; margin-bottom: .3em; }
.src-text { white-space: pre-wrap; font-size: .9em; line-height: 1.45; margin: 0; }
.src-text mark { background: #fff3a3; color: inherit; padding: 0 1px; }
.dark .src-text mark { background: #6b5d00; }
.src-empty { opacity: .7; font-style: italic; }
.src-card.src-retrieved { border-style: dashed; }
.src-status { font-weight: 400; font-style: italic; opacity: .8; }
.answer-timings { font-size: .85em; opacity: .85; margin-top: .4em; }
.answer-timings > summary { cursor: pointer; }
.answer-timings ul { margin: .2em 0 0 1.2em; padding: 0; }
a.cite { text-decoration: none; font-weight: 600; }
"""


def theme() -> Any:
    """Default look with system fonts only (no font files fetched from anywhere): a ``gr.themes.Base``."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"])
