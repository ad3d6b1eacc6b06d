// The operator dashboard's HTML and CSS (served by routes/dashboard.ts). The page holds no data: its script
// (dashboard/script.ts) asks for the admin token and reads everything from the admin API.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CIC dashboard</title>
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header><h1>CIC</h1><span id="status"></span><button id="sign-out" hidden>Sign out</button></header>
<main>
  <section id="sign-in">
    <h2>Admin token</h2>
    <form id="token-form"><input id="token" type="password" autocomplete="off" placeholder="ADMIN_TOKEN" required><button>Open</button></form>
    <p class="hint">Kept in this tab only (sessionStorage); every call goes to the admin API with it.</p>
  </section>
  <div id="app" hidden>
    <section><h2>Tokens per hour, all tenants (last 24 h)</h2><div id="usage-chart" class="chart"></div><p id="usage-totals" class="hint"></p></section>
    <section><h2>Nodes</h2><table id="nodes"><thead><tr><th>name</th><th>endpoint</th><th>models</th><th>status</th><th>breaker</th><th>in flight</th><th>queue</th><th>KV cache</th><th>last error</th></tr></thead><tbody></tbody></table></section>
    <section class="split">
      <div><h2>Tenants</h2>
        <form id="tenant-form"><input id="tenant-name" placeholder="new tenant name" required maxlength="200"><button>Create</button></form>
        <table id="tenants"><thead><tr><th>name</th><th>status</th><th>plan</th><th>created</th></tr></thead><tbody></tbody></table></div>
      <div id="tenant-detail" hidden><h2 id="tenant-title"></h2>
        <p id="tenant-usage" class="hint"></p>
        <form id="key-form"><input id="key-name" placeholder="key name (optional)" maxlength="200"><button>Create key</button></form>
        <p id="new-key" hidden>New key, shown once: <code id="new-key-value"></code></p>
        <table id="keys"><thead><tr><th>prefix</th><th>name</th><th>created</th><th>revoked</th><th></th></tr></thead><tbody></tbody></table></div>
    </section>
    <section><h2>Audit log (latest 20)</h2><table id="audit"><thead><tr><th>when</th><th>actor</th><th>action</th><th>target</th></tr></thead><tbody></tbody></table></section>
  </div>
</main>
</body>
</html>
`

export const DASHBOARD_CSS = `
:root { font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; } #status { flex: 1; opacity: .8; }
main { padding: 1rem 1.2rem; max-width: 1200px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
h2 { font-size: 1rem; margin: 0 0 .6rem; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eef0f3; }
th { font-weight: 600; color: #5a6375; } tbody tr.selectable { cursor: pointer; } tbody tr.selected { background: #eaf1ff; }
.split { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
form { display: flex; gap: .5rem; margin-bottom: .6rem; } input { flex: 1; padding: .3rem .5rem; }
button { padding: .3rem .8rem; cursor: pointer; } .hint { color: #5a6375; margin: .3rem 0; }
.chart svg { width: 100%; height: 180px; } .bar-prompt { fill: #8fb3ff; } .bar-completion { fill: #2f6bff; }
.axis { font-size: 10px; fill: #5a6375; }
.ok { color: #137333; } .warn { color: #b06000; } .bad { color: #c5221f; }
code { background: #f0f2f5; padding: .1rem .3rem; user-select: all; }
`
