// Health Link viewer: Thai first (English secondary), Buddhist-era dates, ISO 8601 on the wire.
// The session token lives in sessionStorage only; identifiers go in POST bodies, never URLs.
"use strict";

const CATEGORY_LABELS = {
  allergies: "การแพ้ยา (Drug allergies)",
  diagnoses: "โรควินิจฉัย (Diagnoses)",
  medication_dispenses: "การจ่ายยา (Dispensed drugs)",
  immunizations: "วัคซีน (Vaccines)",
  procedures: "หัตถการ (Procedures)",
  vital_signs: "ค่าผลตรวจทางการแพทย์ (Measurements)",
  lab_results: "ผลตรวจทางห้องปฏิบัติการ (Laboratory)",
  imaging_reports: "ผลสรุปภาพถ่ายทางการแพทย์ (Imaging)",
  encounters: "การเข้ารับบริการ (Visits)",
  sensitive: "ข้อมูลสุขภาพละเอียดอ่อน (Sensitive)",
};
const STATUS_LABELS = {
  consented: "ยินยอมแล้ว (consented)",
  per_visit_required: "ต้องขอความยินยอมรายครั้ง (per-visit consent needed)",
  requested: "ส่งคำขอแล้ว รอผู้ป่วยตอบ (requested)",
  declined: "ผู้ป่วยปฏิเสธ (declined)",
  break_glass: "เปิดดูกรณีฉุกเฉิน (break-glass)",
};
// Columns shown per category: [field, Thai heading].
const COLUMNS = {
  allergies: [["drug_name", "ยา"], ["symptom", "อาการ"], ["severity", "ความรุนแรง"]],
  diagnoses: [["icd10_code", "ICD-10"], ["diagnosis_name_th", "โรค"], ["diagnosis_type", "ประเภท"]],
  medication_dispenses: [["drug_name", "ยา"], ["quantity", "จำนวน"], ["unit", "หน่วย"]],
  immunizations: [["vaccine_name", "วัคซีน"], ["vaccine_code", "รหัส"]],
  procedures: [["procedure_code", "รหัส"], ["procedure_name", "หัตถการ"]],
  vital_signs: [["vital_code", "รายการ"], ["value", "ค่า"], ["unit", "หน่วย"]],
  lab_results: [["lab_name", "รายการตรวจ"], ["result_value", "ผล"], ["result_text", "ผล (ข้อความ)"], ["unit", "หน่วย"]],
  imaging_reports: [["modality", "ชนิด"], ["body_site", "ตำแหน่ง"], ["conclusion", "สรุปผล"]],
  encounters: [["encounter_class", "ประเภท"], ["chief_complaint", "อาการสำคัญ"], ["location", "แผนก"]],
  sensitive: [["category", "หมวด"], ["sensitivity_category", "ประเภท"], ["record_key", "รหัสระเบียน"]],
};

const $ = (id) => document.getElementById(id);
const views = ["login-view", "terms-view", "hospital-view", "search-view", "record-view", "rating-view", "bye-view"];
let session = null;
let ratingTicket = null;

function show(view) {
  views.forEach((v) => { $(v).hidden = v !== view; });
  $("who").hidden = !session || view === "login-view" || view === "rating-view" || view === "bye-view";
  $("error").hidden = true;
}

function error(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function token() { return sessionStorage.getItem("healthlink-token"); }

async function api(method, path, body, auth = true) {
  const headers = { "Content-Type": "application/json" };
  if (auth && token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`;
    const err = new Error(detail); err.status = response.status; throw err;
  }
  return data;
}

const MESSAGES = {
  invalid_credentials: "เลข ว. หรือรหัส PIN ไม่ถูกต้อง",
  locked: "บัญชีถูกล็อกชั่วคราวเนื่องจากใส่รหัสผิดหลายครั้ง",
  suspended: "บัญชีถูกระงับการใช้งาน",
  not_authenticated: "หมดเวลาการใช้งาน กรุณาเข้าสู่ระบบใหม่",
  patient_not_found: "ไม่พบข้อมูลผู้ป่วย",
  rate_limited: "ค้นหาบ่อยเกินไป กรุณารอสักครู่",
};
const say = (e) => MESSAGES[e.message] || `เกิดข้อผิดพลาด (${e.message})`;

// Buddhist era: year + 543; dates as Thai clinicians write them.
function thaiDate(iso, withTime = false) {
  if (!iso) return "–";
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00+07:00` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  const options = { timeZone: "Asia/Bangkok", year: "numeric", month: "short", day: "numeric", calendar: "buddhist" };
  if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  return new Intl.DateTimeFormat("th-TH-u-ca-buddhist", options).format(d);
}

function cell(text) { const td = document.createElement("td"); td.textContent = text ?? "–"; return td; }

// A code the reference lists do not name is kept on its row with no name (docs/contract.md):
// show its source code as "unmapped" rather than an empty name a physician might overlook.
const NAMED_BY = { diagnosis_name_th: "icd10_code", drug_name: "drug_code", vaccine_name: "vaccine_code", procedure_name: "procedure_code", lab_name: "lab_code" };
function shown(row, field) {
  const code = row[NAMED_BY[field]];
  return row[field] == null && code ? `ไม่ทราบชื่อ (unmapped): ${code}` : row[field];
}

async function afterLogin() {
  session = await api("GET", "/auth/session");
  $("who-name").textContent = `${session.name} (ว. ${session.licence})`;
  $("who-hospital").textContent = session.current_hospital ? `รพ. ${session.current_hospital}` : "";
  if (!session.terms_accepted) {
    $("terms-th").textContent = session.terms_th; $("terms-en").textContent = session.terms_en;
    return show("terms-view");
  }
  if (!session.current_hospital) {
    const box = $("hospital-choices"); box.replaceChildren();
    session.hospitals.forEach((code) => {
      const b = document.createElement("button"); b.type = "button"; b.textContent = code;
      b.addEventListener("click", async () => { await api("POST", "/auth/hospital", { hospital_code: code }); afterLogin(); });
      box.append(b, " ");
    });
    return show("hospital-view");
  }
  show("search-view");
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const result = await api("POST", "/auth/login", { licence: form.get("licence"), pincode: form.get("pincode") }, false);
    sessionStorage.setItem("healthlink-token", result.token);
    event.target.reset();
    await afterLogin();
  } catch (e) { error(say(e)); }
});

$("accept-terms").addEventListener("click", async () => {
  await api("POST", "/auth/terms", { accept: true, terms_version: session.terms_version });
  afterLogin();
});

async function search(body) {
  try {
    const result = await api("POST", "/patients/search", body);
    const box = $("results"); box.replaceChildren();
    const summary = document.createElement("p");
    summary.textContent = `พบ ${result.total} ราย (found ${result.total})`;
    box.append(summary);
    if (!result.items.length) return;
    const table = document.createElement("table");
    table.innerHTML = "<thead><tr><th>ชื่อ-นามสกุล</th><th>เพศ</th><th>วันเกิด</th><th></th></tr></thead>";
    const tbody = document.createElement("tbody");
    result.items.forEach((p) => {
      const tr = document.createElement("tr");
      tr.append(cell(`${p.prename || ""}${p.first_name} ${p.last_name}`), cell(p.sex === "female" ? "หญิง" : p.sex === "male" ? "ชาย" : "–"), cell(thaiDate(p.birth_date)));
      const td = document.createElement("td"); const b = document.createElement("button");
      b.type = "button"; b.textContent = "ดูประวัติ"; b.className = "open-record";
      b.addEventListener("click", () => openRecord(p.patient_key));
      td.append(b); tr.append(td); tbody.append(tr);
    });
    table.append(tbody); box.append(table);
  } catch (e) { error(say(e)); }
}

$("search-id-form").addEventListener("submit", (event) => {
  event.preventDefault();
  search({ national_id: new FormData(event.target).get("national_id") });
});
$("search-name-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  search({ first_name: form.get("first_name"), last_name: form.get("last_name") });
});

function categoryTable(category, rows) {
  const wrap = document.createElement("div");
  const h = document.createElement("h4"); h.textContent = `${CATEGORY_LABELS[category]} · ${rows.length}`;
  if (category === "sensitive") h.className = "sensitive";
  wrap.append(h);
  const table = document.createElement("table");
  const head = document.createElement("tr");
  [...COLUMNS[category].map((c) => c[1]), "วันที่บันทึก (recorded)", "รหัสระเบียน (source record)"].forEach((t) => {
    const th = document.createElement("th"); th.textContent = t; head.append(th);
  });
  table.append(head);
  rows.forEach((row) => {
    const tr = document.createElement("tr");
    COLUMNS[category].forEach(([field]) => tr.append(cell(shown(row, field))));
    tr.append(cell(thaiDate(row.recorded_at || row.service_date || row.recorded_date, true)), cell(row.record_key));
    table.append(tr);
  });
  wrap.append(table);
  return wrap;
}

async function openRecord(patientKey) {
  try {
    const record = await api("GET", `/patients/${patientKey}/record`);
    const box = $("record"); box.replaceChildren();
    const p = record.patient;
    const title = document.createElement("h2");
    title.textContent = `${p.prename || ""}${p.first_name} ${p.last_name} · เกิด ${thaiDate(p.birth_date)}`;
    const disclaimer = document.createElement("p"); disclaimer.className = "disclaimer";
    disclaimer.textContent = `${record.disclaimer_th} (${record.disclaimer_en})`;
    box.append(title, disclaimer);
    const gated = record.hospitals.filter((h) => h.withheld && h.consent_status === "per_visit_required").map((h) => h.hospital_code);
    if (gated.length) {
      const b = document.createElement("button"); b.type = "button"; b.id = "request-per-visit";
      b.textContent = `ขอความยินยอมรายครั้งจากผู้ป่วย (${gated.length} โรงพยาบาล)`;
      b.addEventListener("click", async () => {
        try { await api("POST", `/patients/${patientKey}/per-visit-requests`, { source_hospitals: gated }); openRecord(patientKey); } catch (e) { error(say(e)); }
      });
      box.append(b);
    }
    record.hospitals.forEach((h) => {
      const section = document.createElement("div"); section.className = "hospital";
      const name = document.createElement("h3"); name.textContent = `${h.hospital_name || h.hospital_code} (${h.hospital_code})`;
      const status = document.createElement("span"); status.className = `status ${h.consent_status}`; status.textContent = STATUS_LABELS[h.consent_status];
      const fresh = document.createElement("p"); fresh.className = "freshness";
      fresh.textContent = `ข้อมูล ณ ${thaiDate(h.data_as_of, true)} (data as of)`;
      section.append(name, status, fresh);
      if (h.withheld) {
        const note = document.createElement("p");
        note.textContent = "ข้อมูลของโรงพยาบาลนี้ต้องได้รับความยินยอมจากผู้ป่วยในการรับบริการครั้งนี้";
        section.append(note);
      } else {
        record.categories.forEach((c) => { if (h.categories[c] && h.categories[c].length) section.append(categoryTable(c, h.categories[c])); });
      }
      box.append(section);
    });
    show("record-view");
  } catch (e) { error(say(e)); }
}

$("back").addEventListener("click", () => show("search-view"));

$("logout").addEventListener("click", async () => {
  try { ratingTicket = (await api("POST", "/auth/logout")).rating_ticket; } catch (e) { ratingTicket = null; }
  sessionStorage.removeItem("healthlink-token"); session = null;
  const stars = $("stars"); stars.replaceChildren();
  const legend = document.createElement("legend"); legend.textContent = "คะแนน 1-5"; stars.append(legend);
  [1, 2, 3, 4, 5].forEach((n) => {
    const label = document.createElement("label"); const input = document.createElement("input");
    input.type = "radio"; input.name = "score"; input.value = String(n); input.required = true;
    label.append(input, ` ${n}`); stars.append(label);
  });
  show(ratingTicket ? "rating-view" : "bye-view");
});

$("rating-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await api("POST", "/ratings", { rating_ticket: ratingTicket, score: Number(form.get("score")), comment: form.get("comment") || null }, false);
  } catch (e) { /* a rating is optional */ }
  event.target.reset(); show("bye-view");
});
$("skip-rating").addEventListener("click", () => show("bye-view"));
$("again").addEventListener("click", () => show("login-view"));

(async () => {
  if (token()) { try { await afterLogin(); return; } catch (e) { sessionStorage.removeItem("healthlink-token"); } }
  show("login-view");
})();
