// A plotly chart that Streamlit updates in place (a components.v2 renderer).
//
// st.plotly_chart gives the chart a new identity whenever its figure changes, so every budget
// slider step remounts it: a new WebGL context, its shaders compiled again, two full plots,
// and the user's zoom lost. Here the same <div> lives across reruns and each new figure goes
// through Plotly.react, which keeps the context and, with layout.uirevision, the zoom.
//
// data: {figure: plotly JSON string, config: plotly config, src: URL of plotly.min.js,
//        table_key, table: {text, custom (base64 float32), ncol} or null}
// Hover data: traces with `meta` (their rows in the study's hover table) come without text and
// customdata; the table arrives once per session and is kept here, by key.
// triggers: "clicked" = customdata[0] of the clicked point (the trial number); "failed" = why
// plotly.js could not be loaded or draw (Python then falls back to st.plotly_chart);
// "missing" = the key of a hover table this page does not hold (Python sends it again).

let loading = null;
const tables = new Map();

function keepTable(key, t) {
  const bin = atob(t.custom);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  tables.delete(key);
  tables.set(key, { text: t.text, custom: new Float32Array(bytes.buffer), ncol: t.ncol });
  while (tables.size > 4) tables.delete(tables.keys().next().value); // oldest first
}

function fillHover(figure, table) {
  const n = table.ncol;
  for (const t of figure.data) {
    if (!Array.isArray(t.meta) || t.text !== undefined) continue;
    t.text = t.meta.map((i) => table.text[i]);
    t.customdata = t.meta.map((i) => Array.from(table.custom.subarray(i * n, (i + 1) * n)));
  }
}

// The app's theme (light, dark or custom) as Streamlit exposes it to components: CSS custom
// properties on the component's wrapper. Without them (outside Streamlit), plotly.js's own look.
// Black marks (the recommended trial's ring) take the text colour, so they show on dark too.
function applyTheme(el, figure) {
  const css = getComputedStyle(el);
  const text = css.getPropertyValue("--st-text-color").trim();
  const bg = css.getPropertyValue("--st-background-color").trim();
  if (!text || !bg) return;
  const line = css.getPropertyValue("--st-border-color").trim() || text;
  for (const t of figure.data) {
    if (t.marker && t.marker.color === "black") t.marker.color = text;
  }
  const layout = figure.layout;
  layout.paper_bgcolor = bg;
  layout.plot_bgcolor = bg;
  layout.font = Object.assign({ color: text }, layout.font);
  for (const axis of ["xaxis", "yaxis"]) {
    layout[axis] = Object.assign({ gridcolor: line, zerolinecolor: line }, layout[axis]);
  }
}

function loadPlotly(src) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { loading = null; reject(new Error(`cannot load ${src}`)); };
      document.head.appendChild(s);
    });
  }
  return loading;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let gd = parentElement.querySelector(".fv-live-chart");
  if (!gd) {
    gd = document.createElement("div");
    gd.className = "fv-live-chart";
    parentElement.appendChild(gd);
  }
  gd.fvSetTrigger = setTriggerValue; // the click handler below outlives this render
  const figure = JSON.parse(data.figure);
  if (data.table_key) {
    if (data.table) keepTable(data.table_key, data.table);
    const table = tables.get(data.table_key);
    if (!table) {
      setTriggerValue("missing", data.table_key);
      return;
    }
    fillHover(figure, table);
  }
  // a click picks a trial (Python rings it); plotly's own selection would fade every other point
  figure.layout.clickmode = "event";
  applyTheme(parentElement, figure);
  loadPlotly(data.src)
    .then((Plotly) => Plotly.react(gd, figure.data, figure.layout, data.config))
    .then(() => {
      if (gd.fvClickBound) return;
      gd.fvClickBound = true;
      gd.on("plotly_click", (ev) => {
        const cd = ev.points && ev.points.length ? ev.points[0].customdata : undefined;
        if (cd !== undefined && cd !== null) {
          // a row of the customdata matrix; plotly keeps typed arrays (float32 here) as they are
          const row = Array.isArray(cd) || ArrayBuffer.isView(cd);
          gd.fvSetTrigger("clicked", Number(row ? cd[0] : cd));
        }
      });
    })
    .catch((err) => {
      gd.textContent = `The chart could not be drawn: ${err.message}`;
      setTriggerValue("failed", String(err.message || err));
    });
}
