// mnist-compare serve: the drawing pad, the answers and the run list.
// The page only draws and asks: every pixel the networks see is computed on the server
// by `predict`'s own preprocessing (compare/digits.py); nothing here touches the image.
"use strict";

const state = { run: null, seq: 0, shown: 0, drawing: false, inked: false, timer: null, strokeEnd: null };
// Stroke end -> both answers on screen (ms); `asked`/`answered`: the last request sent and
// the last one shown or refused, equal when no answer is on its way (tests wait for it).
window.serveTiming = { lastMs: null, samples: [], asked: 0, answered: 0 };

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
};

// ---- drawing pad ------------------------------------------------------------------
const pad = $("pad");
const ink = pad.getContext("2d");

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  state.inked = false;
  state.seq += 1; // answers still on their way are for the old drawing
  $("answers").replaceChildren();
  $("agreement").textContent = "";
  $("first-layer").hidden = true;
  $("input").removeAttribute("src");
  setStatus("Draw a digit with the mouse, a finger or a pen.");
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * (pad.width / box.width),
          (event.clientY - box.top) * (pad.height / box.height)];
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  state.drawing = true;
  const [x, y] = point(event);
  ink.lineWidth = 18;
  ink.lineCap = ink.lineJoin = "round";
  ink.strokeStyle = "#000";
  ink.beginPath();
  ink.moveTo(x, y);
  ink.lineTo(x + 0.01, y);
  ink.stroke();
  state.inked = true;
});
pad.addEventListener("pointermove", (event) => {
  if (!state.drawing) return;
  const [x, y] = point(event);
  ink.lineTo(x, y);
  ink.stroke();
  clearTimeout(state.timer);
  state.timer = setTimeout(askDrawing, 120); // debounced while the stroke goes on
});
const endStroke = () => {
  if (!state.drawing) return;
  state.drawing = false;
  clearTimeout(state.timer);
  state.strokeEnd = performance.now();
  askDrawing();
};
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

$("clear").addEventListener("click", clearPad);
$("upload").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) ask(file, "upload", null);
});

function askDrawing() {
  if (!state.inked) return;
  // The pad as a PNG file, exactly as drawn. toDataURL is synchronous; toBlob waits for
  // an idle period, which can take a second in a busy (or headless) browser.
  const png = atob(pad.toDataURL("image/png").split(",")[1]);
  const bytes = Uint8Array.from(png, (char) => char.charCodeAt(0));
  ask(new Blob([bytes], { type: "image/png" }), "drawing", state.strokeEnd);
}

// ---- asking the server --------------------------------------------------------------
function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

async function ask(body, name, started) {
  if (!state.run) { setStatus("No run chosen: train one with mnist-compare run.", true); return; }
  const seq = ++state.seq;
  window.serveTiming.asked = seq;
  let reply;
  try {
    const response = await fetch(`/api/predict?run=${encodeURIComponent(state.run)}`,
      { method: "POST", body, headers: { "X-Image-Name": name } });
    reply = await response.json();
  } catch (error) {
    reply = { error: `the server did not answer (${error.message}); is mnist-compare serve running?` };
  }
  if (seq < state.shown) return; // a newer answer is already on screen
  state.shown = seq;
  if (reply.error) setStatus(reply.error, true); else showAnswers(reply);
  window.serveTiming.answered = seq;
  if (reply.error) return;
  if (started !== null && name === "drawing") {
    requestAnimationFrame(() => {
      const ms = performance.now() - started;
      window.serveTiming.lastMs = ms;
      window.serveTiming.samples.push(ms);
    });
  }
}

function showAnswers(reply) {
  $("input").src = reply.input;
  $("answers").replaceChildren(...reply.answers.map(answerCard));
  const digits = reply.answers.map((a) => a.digit);
  const agreement = $("agreement");
  if (reply.answers.length < 2) {
    agreement.textContent = `Only one network in this run: ${reply.answers[0].label} says ${digits[0]}.`;
  } else if (reply.agree) {
    agreement.textContent = `The networks agree: ${digits[0]}.`;
  } else {
    agreement.textContent = "The networks disagree: " +
      reply.answers.map((a) => `${a.label} says ${a.digit}`).join(", ") + ".";
  }
  agreement.classList.toggle("disagree", reply.agree === false);
  agreement.dataset.agree = String(reply.agree);
  showFirstLayer(reply.first_layer);
  setStatus(`Answered in ${reply.server_ms} ms on the server.`);
}

function answerCard(answer) {
  const top = Math.max(...answer.probabilities);
  const bars = answer.probabilities.map((p, digit) => {
    const fill = el("div", { className: "fill", title: `${digit}: ${(100 * p).toFixed(1)}%` });
    fill.style.height = `${Math.max(1, 100 * p)}%`;
    fill.style.background = p === top ? answer.color : "#bbb";
    return el("div", { className: "bar" }, el("span", { className: "label", textContent: String(digit) }), fill);
  });
  const card = el("div", { className: "answer" },
    el("h2", { textContent: answer.label }),
    el("div", { className: "digit", textContent: String(answer.digit) }),
    el("div", { className: "bars" }, ...bars),
    el("div", { className: "note", textContent: `${(100 * top).toFixed(1)}% sure` }));
  card.dataset.model = answer.name;
  card.dataset.digit = String(answer.digit);
  return card;
}

function showFirstLayer(first) {
  const panel = $("first-layer");
  panel.hidden = !first;
  if (!first) return;
  $("first-layer-note").textContent = first.note;
  const what = first.measure === "max Z" ? "filter" : "unit";
  $("units").replaceChildren(...first.units.map((unit) => el("div", { className: "unit" },
    el("img", { src: unit.image, width: 84, height: 84,
                alt: what === "filter" ? `feature map of filter ${unit.unit}` : `weights of unit ${unit.unit}` }),
    `${what} ${unit.unit}`, el("br"), `${first.measure} = ${unit.activation.toFixed(2)}`)));
}

// ---- runs -----------------------------------------------------------------------------
async function getJson(url) {
  const response = await fetch(url);
  const reply = await response.json();
  if (!response.ok) throw new Error(reply.error || response.statusText);
  return reply;
}

async function chooseRun(name) {
  state.run = name;
  $("run-name").textContent = name;
  document.querySelectorAll("#run-table tbody tr").forEach((row) =>
    row.classList.toggle("chosen", row.dataset.run === name));
  setStatus(`Loading ${name}...`);
  try {
    const loaded = await getJson(`/api/load?run=${encodeURIComponent(name)}`);
    setStatus(`Ready: ${loaded.models.map((m) => m.label).join(" and ")}. Draw a digit.`);
    document.body.dataset.loaded = name;
    if (state.inked) askDrawing();
  } catch (error) {
    setStatus(error.message, true);
  }
}

function percent(value) {
  return typeof value === "number" ? `${(100 * value).toFixed(2)}%` : "–";
}

function runRow(run) {
  const use = el("button", { type: "button", textContent: "draw with it" });
  use.addEventListener("click", () => chooseRun(run.name));
  const report = run.report
    ? el("a", { href: `/runs/${encodeURIComponent(run.name)}/report.html`, target: "_blank", rel: "noopener", textContent: "report" })
    : "no report";
  const row = el("tr", {},
    el("td", {}, el("input", { type: "checkbox", value: run.name, className: "pick" })),
    el("td", { textContent: run.name }),
    el("td", { textContent: run.finished_at.replace("T", " ").replace("+00:00", " UTC") }),
    el("td", { textContent: run.models.map((m) => m.label).join(" + ") }),
    el("td", { textContent: run.architecture }),
    el("td", { textContent: run.models.map((m) => percent(m.test_accuracy)).join(" / ") }),
    el("td", {}, use), el("td", {}, report));
  row.dataset.run = run.name;
  return row;
}

async function loadRuns() {
  const reply = await getJson("/api/runs");
  $("runs-dir").textContent = `in ${reply.runs_dir}, newest first`;
  $("run-table").tBodies[0].replaceChildren(...reply.runs.map(runRow));
  const first = reply.chosen || (reply.runs[0] && reply.runs[0].name);
  if (first) chooseRun(first); else setStatus("No complete run yet: make one with mnist-compare run.", true);
}

const ROWS = [
  ["finished", (run) => run.finished_at],
  ["architecture", (run) => run.architecture],
  ["optimizer, learning rate", (run) => `${run.optimizer}, ${run.learning_rate}`],
  ["epochs, batch size", (run) => `${run.epochs}, ${run.batch_size}`],
  ["training images", (run) => String(run.train_images)],
];
const MODEL_ROWS = [
  ["test accuracy", (n) => percent(n.test_accuracy)],
  ["test loss", (n) => (typeof n.test_loss === "number" ? n.test_loss.toFixed(4) : "–")],
  ["training seconds", (n) => (typeof n.train_seconds === "number" ? n.train_seconds.toFixed(1) : "–")],
  ["samples per second", (n) => (typeof n.samples_per_second === "number" ? Math.round(n.samples_per_second).toLocaleString("en") : "–")],
  ["epochs completed", (n) => String(n.epochs_completed)],
];

async function compareRuns() {
  const names = [...document.querySelectorAll(".pick:checked")].map((box) => box.value);
  const target = $("comparison");
  if (names.length < 2) { target.replaceChildren(el("p", { textContent: "Tick two or more runs to compare." })); return; }
  try {
    const reply = await getJson("/api/compare?" + names.map((n) => `run=${encodeURIComponent(n)}`).join("&"));
    const columns = reply.runs.flatMap((run) => run.models.map((m) => [run, m]));
    const head = el("tr", {}, el("th"), ...columns.map(([run, m]) => el("th", { textContent: `${run.name}: ${m.label}` })));
    const rows = ROWS.map(([label, get]) => el("tr", {}, el("th", { textContent: label }),
      ...columns.map(([run]) => el("td", { textContent: get(run) }))));
    const modelRows = MODEL_ROWS.map(([label, get]) => el("tr", {}, el("th", { textContent: label }),
      ...columns.map(([run, m]) => el("td", { textContent: get(run.numbers[m.name] || {}) }))));
    target.replaceChildren(el("table", { id: "compare-table" }, el("thead", {}, head), el("tbody", {}, ...rows, ...modelRows)));
  } catch (error) {
    target.replaceChildren(el("p", { className: "error", textContent: error.message }));
  }
}
$("compare").addEventListener("click", compareRuns);

clearPad();
loadRuns().catch((error) => setStatus(error.message, true));
