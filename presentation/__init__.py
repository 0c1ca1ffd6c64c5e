"""What people read, shared by both towers: metric vocabulary, words, charts, exports.

A pure bottom package: it imports nothing of the project, so the node (sensors, edge,
web_local) and the hub (hub_sync, provisioning, hub) both render with it directly.

- vocabulary, home_assistant, reading_flags, rollup: what a reading and a rollup are.
- numbers, words: values and durations as people say them.
- line_chart, busy_times, tables (built from chart_svg, chart_time, chart_axes): SVG
  charts and the accessible tables that say the same.
- ventilation, air_quality, people_today, weekly_summary, freshness (on insight_basics):
  what the readings mean, in sentences.
- csv_export, senml_export (on export_rows): the download formats.
- monthly_report (on report_month, report_figures, report_model) and report_pdf,
  report_html, report_svg: the monthly hall report, as A4 PDF and as a web page;
  pdf_text: text as the PDF's built-in fonts show it (the report and the poster).
- questions: questions in plain English, parsed by a small grammar and answered from
  the rollups (or declined).
"""
