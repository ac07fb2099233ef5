/* html_style.h - the report's one inline style sheet (private to html_report.c). */
#ifndef SB_HTML_STYLE_H
#define SB_HTML_STYLE_H

/* System fonts only: the page fetches nothing. Colours of places and light match the charts' legends. */
#define HTML_STYLE \
":root{--ink:#1d2330;--muted:#667085;--line:#e4e7ec;--paper:#fff;--bg:#f6f7f9;--accent:#2f5d8a;" \
"--int:#d9893d;--ext:#3d86c6;--both:#8e6bb8;--unk:#b8bec9;--day:#f2c94c;--night:#2e3a6e;--dusk:#e07a5f}\n" \
"*{box-sizing:border-box}\n" \
"body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto," \
"'Helvetica Neue',Arial,sans-serif}\n" \
"a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}\n" \
"main{max-width:1180px;margin:0 auto;padding:0 24px 48px}\n" \
"header.top{background:#1f2a3d;color:#fff;padding:28px 0 22px}\n" \
"header.top .in{max-width:1180px;margin:0 auto;padding:0 24px}\n" \
"header.top h1{margin:0;font:700 34px/1.15 Georgia,'Times New Roman',serif;letter-spacing:.01em}\n" \
"header.top .sub{color:#b9c3d6;margin-top:4px}\n" \
"header.top .logline{font:italic 19px/1.45 Georgia,serif;margin:14px 0 0;max-width:900px}\n" \
"nav.toc{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);" \
"padding:8px 24px;text-align:center}\n" \
"nav.toc a{margin:0 10px;font-weight:600;font-size:14px}\n" \
"section{margin-top:28px}\n" \
"h2{font:700 22px/1.2 Georgia,serif;border-bottom:2px solid var(--ink);padding-bottom:6px;margin:0 0 14px}\n" \
"h3{margin:0;font-size:16px}\n" \
".panel{background:var(--paper);border:1px solid var(--line);border-radius:8px;padding:16px 18px}\n" \
".facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:10px 24px;margin:0}\n" \
".facts div{min-width:0}.facts dt{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}\n" \
".facts dd{margin:0;overflow-wrap:anywhere}.facts .wide{grid-column:span 2}\n" \
".digest{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\n" \
".synopsis{margin:14px 0 0;max-width:900px}\n" \
".missing{color:#9a3412;background:#fff7ed;border:1px dashed #f59e0b;border-radius:6px;padding:6px 10px}\n" \
".none{color:var(--muted)}\n" \
".act{margin-bottom:14px}.act summary{cursor:pointer}.act summary h3{display:inline;font:700 17px Georgia,serif}\n" \
".seq{margin:8px 0 0 14px;padding-left:12px;border-left:3px solid var(--line)}\n" \
".seq h4{margin:0;font-size:14px}.beats{margin:4px 0 0;padding-left:20px}.beats li{margin:2px 0}\n" \
".range{color:var(--muted);font-size:13px;margin-left:6px}\n" \
"figure{margin:0 0 18px}figcaption{font-weight:600;margin-bottom:6px}\n" \
"figure svg{display:block;max-width:100%;height:auto}\n" \
".legend{font-size:12px;color:var(--muted);margin-top:4px}\n" \
".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}\n" \
".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}\n" \
".card{background:var(--paper);border:1px solid var(--line);border-radius:8px;padding:14px 16px;" \
"break-inside:avoid}\n" \
".card:target{outline:3px solid var(--accent)}\n" \
".card header{display:flex;gap:10px;align-items:baseline}\n" \
".num{flex:none;font:700 13px ui-monospace,monospace;background:var(--ink);color:#fff;border-radius:4px;" \
"padding:1px 7px}\n" \
".meta{color:var(--muted);font-size:13px;margin:6px 0}\n" \
".tag{display:inline-block;font-size:11px;font-weight:700;border-radius:3px;padding:0 5px;margin-right:4px;" \
"color:#fff}\n" \
".t-int{background:var(--int)}.t-ext{background:var(--ext)}.t-both{background:var(--both)}" \
".t-unk{background:var(--unk)}.t-day{background:var(--day);color:#3d2f00}.t-night{background:var(--night)}" \
".t-dusk{background:var(--dusk)}\n" \
".card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:8px 0;font-size:14px}\n" \
".card dt{color:var(--muted)}.card dd{margin:0}.named{font-style:italic}\n" \
".similar{font-size:13px;border-top:1px solid var(--line);padding-top:6px;margin:8px 0 0}\n" \
"blockquote{margin:6px 0;padding:2px 10px;border-left:3px solid var(--int);font:italic 14px/1.45 Georgia,serif}\n" \
".sheets .card h3{font:700 18px Georgia,serif}\n" \
".rel{margin:4px 0;padding-left:18px;font-size:14px}\n" \
"footer{color:var(--muted);font-size:12px;text-align:center;margin:36px 0 0}\n" \
"@media print{body{background:#fff;font-size:11pt}nav.toc{display:none}" \
"header.top{background:#fff;color:#000;border-bottom:2px solid #000}header.top .sub{color:#333}" \
".card,.panel{border-color:#999}section{break-before:auto}h2{break-after:avoid}figure{break-inside:avoid}" \
"a{color:inherit}.cards{display:block}.card{margin-bottom:10px}}\n"

#endif
