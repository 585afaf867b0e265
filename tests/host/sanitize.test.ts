/**
 * The sanitizer of staging data, run for real on a realistic sample database of a tow-truck
 * company (tests/host/fixtures/make_sample_db.py): Brazilian names, CPF/CNPJ, phones,
 * plates and addresses, with copies of them across tables and inside free-text notes.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { HostEvent, repoRoot, runTool, tempDir, ToolResult } from "../helpers/host";

type Row = Record<string, string | number | null>;

const makeSample = path.join(repoRoot, "tests", "host", "fixtures", "make_sample_db.py");
const defaultRules = path.join(repoRoot, "host", "sanitize-rules.json");

/** The masked columns of the sample schema and what each must look like afterwards. */
const PERSONAL: Array<[string, string]> = [
  ["customers", "name"],
  ["customers", "cpf_cnpj"],
  ["customers", "phone"],
  ["customers", "email"],
  ["customers", "address_street"],
  ["customers", "cep"],
  ["drivers", "name"],
  ["drivers", "cpf"],
  ["drivers", "cnh"],
  ["drivers", "phone"],
  ["vehicles", "plate"],
  ["tows", "plate"],
  ["tows", "contact_phone"],
  ["tows", "pickup_address"],
  ["invoices", "customer_name"],
  ["invoices", "customer_document"],
];

function query(db: string, sql: string): Row[] {
  const result = spawnSync("sqlite3", ["-json", "-readonly", db, sql], { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`sqlite3 failed on ${sql}: ${result.stderr}`);
  }
  return result.stdout.trim() ? (JSON.parse(result.stdout) as Row[]) : [];
}

function makeDatabase(dir: string, customers = 120): string {
  const db = path.join(dir, "prod.sqlite3");
  const made = spawnSync("python3", [makeSample, db, "--customers", String(customers)], {
    encoding: "utf8",
  });
  expect(made.stderr).toBe("");
  return db;
}

function sanitize(dir: string, args: string[]): ToolResult {
  return runTool("sanitize", [
    "--output",
    `file://${path.join(dir, "staging")}`,
    "--work-dir",
    path.join(dir, "work"),
    ...args,
  ]);
}

function event(result: ToolResult, name: string): HostEvent {
  const found = result.events.filter((e) => e.event === name);
  expect(found).toHaveLength(1);
  return found[0];
}

/** Unpacks the one published copy into `<dir>/<name>` and returns its path and manifest. */
function unpack(dir: string, name: string): { db: string; manifest: Record<string, unknown> } {
  const root = path.join(dir, "staging");
  const manifests = fs.readdirSync(path.join(root, "manifests"));
  expect(manifests).toHaveLength(1);
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "manifests", manifests[0]), "utf8"));
  const db = path.join(dir, name);
  fs.writeFileSync(db, zlib.gunzipSync(fs.readFileSync(path.join(root, manifest.object))));
  return { db, manifest };
}

function cpfValid(value: string): boolean {
  const d = value.replace(/\D/g, "");
  if (!/^\d{3}\.?\d{3}\.?\d{3}-?\d{2}$/.test(value) || new Set(d).size === 1) {
    return false;
  }
  const check = (n: number) => {
    const sum = [...d.slice(0, n)].reduce((acc, c, i) => acc + Number(c) * (n + 1 - i), 0);
    const rest = sum % 11;
    return rest < 2 ? 0 : 11 - rest;
  };
  return check(9) === Number(d[9]) && check(10) === Number(d[10]);
}

function cnpjValid(value: string): boolean {
  const c = value.toUpperCase().replace(/[^0-9A-Z]/g, "");
  if (c.length !== 14) {
    return false;
  }
  const weights = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
  const check = (n: number) => {
    const w = weights.slice(weights.length - n);
    const sum = [...c.slice(0, n)].reduce((acc, ch, i) => acc + (ch.charCodeAt(0) - 48) * w[i], 0);
    const rest = sum % 11;
    return rest < 2 ? 0 : 11 - rest;
  };
  return check(12) === Number(c[12]) && check(13) === Number(c[13]);
}

/** The punctuation skeleton of a value: "(11) 98765-4321" -> "(dd) ddddd-dddd". */
function shape(value: string): string {
  return value.replace(/\d/g, "d");
}

/** SQL for a document column without its dots, dashes and slashes. */
const bare = (column: string) => `replace(replace(replace(${column}, '.', ''), '-', ''), '/', '')`;

const digits = (value: unknown) => String(value).replace(/\D/g, "");

describe("sanitize on the sample database", () => {
  let dir: string;
  let cleanup: () => void;
  let source: string;
  let output: string;
  let manifest: Record<string, unknown>;
  let result: ToolResult;

  beforeAll(() => {
    ({ dir, cleanup } = tempDir("sanitize"));
    source = makeDatabase(dir);
    result = sanitize(dir, ["--database", source]);
    ({ db: output, manifest } = unpack(dir, "staging.sqlite3"));
  });

  afterAll(() => cleanup());

  it("completes, with counts per masked column, and leaves no work files behind", () => {
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.events.map((e) => e.event)).toEqual([
      "sanitize_copied",
      "sanitize_masked",
      "sanitize_verified",
      "sanitize_published",
      "sanitize_completed",
    ]);
    const completed = event(result, "sanitize_completed");
    const count = (sql: string) => Number(Object.values(query(source, sql)[0])[0]);
    const masked = completed.masked as Record<string, number>;
    expect(masked["customers.cpf_cnpj"]).toBe(count("SELECT count(*) FROM customers"));
    expect(masked["customers.email"]).toBe(count("SELECT count(email) FROM customers"));
    expect(masked["vehicles.plate"]).toBe(count("SELECT count(*) FROM vehicles"));
    expect(masked["tows.notes"]).toBe(
      count(
        "SELECT count(*) FROM tows WHERE notes LIKE 'Cliente%' OR notes LIKE 'Pneu%' " +
          "OR notes LIKE 'Documento%'",
      ),
    );
    expect(completed.unchanged).toEqual({
      "tows.notes": count("SELECT count(*) FROM tows WHERE notes LIKE 'Veículo%'"),
    });
    expect(completed.tables_emptied).toEqual(["sessions"]);
    expect(fs.readdirSync(path.join(dir, "work"))).toEqual([]);
  });

  it("leaves no original value of a masked column in any cell of the published copy", () => {
    const originals = new Set<string>();
    for (const [table, column] of PERSONAL) {
      for (const row of query(source, `SELECT DISTINCT ${column} AS v FROM ${table}`)) {
        if (row.v !== null && String(row.v).length >= 6) {
          originals.add(String(row.v).toLowerCase());
        }
      }
    }
    expect(originals.size).toBeGreaterThan(1000); // the check below is not vacuous
    const tables = query(output, "SELECT name FROM sqlite_schema WHERE type = 'table'");
    const leaks: string[] = [];
    for (const { name } of tables) {
      for (const row of query(output, `SELECT * FROM "${name}"`)) {
        for (const [column, value] of Object.entries(row)) {
          if (typeof value === "string" && originals.has(value.trim().toLowerCase())) {
            leaks.push(`${name}.${column}`);
          }
        }
      }
    }
    expect(leaks).toEqual([]);
  });

  it("leaves no identifying original anywhere in the file's bytes", () => {
    // Documents, phones, e-mails, plates, CEPs, licence numbers, full names of three words or
    // more, numbered addresses. ("Rua Bahia" or "Ana Lima" alone may recur by chance.)
    const identifying = new Set<string>();
    const add = (sql: string, keep: (v: string) => boolean = () => true) =>
      query(source, sql).forEach((row) => keep(String(row.v)) && identifying.add(String(row.v)));
    for (const [table, column] of PERSONAL) {
      if (/cpf|document|phone|email|plate|cnh|cep/.test(column)) {
        add(`SELECT DISTINCT ${column} AS v FROM ${table} WHERE ${column} IS NOT NULL`);
      }
    }
    add(
      "SELECT name AS v FROM customers UNION SELECT name FROM drivers",
      (v) => v.split(" ").length >= 3,
    );
    add("SELECT pickup_address AS v FROM tows", (v) => /\d/.test(v));
    expect(identifying.size).toBeGreaterThan(1000);
    const bytes = fs.readFileSync(output).toString("latin1").toLowerCase();
    const found = [...identifying].filter((value) =>
      bytes.includes(Buffer.from(value.toLowerCase()).toString("latin1")),
    );
    expect(found).toEqual([]);
  });

  it("keeps formats valid: CPF and CNPJ check digits, phones, plates, e-mail, CEP", () => {
    const pairs = (sql: string) => {
      const before = query(source, sql);
      const after = query(output, sql);
      expect(after).toHaveLength(before.length);
      return before.map((row, i) => [String(row.v), String(after[i].v)]);
    };
    for (const [was, now] of pairs("SELECT cpf_cnpj AS v FROM customers ORDER BY id")) {
      expect(now).not.toBe(was);
      expect(shape(now)).toBe(shape(was));
      expect(digits(now).length === 11 ? cpfValid(now) : cnpjValid(now)).toBe(true);
    }
    for (const [was, now] of pairs("SELECT cpf AS v FROM drivers ORDER BY id")) {
      expect([cpfValid(now), shape(now)]).toEqual([true, shape(was)]);
    }
    for (const [was, now] of pairs("SELECT contact_phone AS v FROM tows ORDER BY id")) {
      expect(shape(now)).toBe(shape(was));
      const area = (v: string) =>
        digits(v)
          .replace(/^55(?=\d{10,11}$)/, "")
          .slice(0, 2);
      expect(area(now)).toBe(area(was));
      expect(digits(now)).not.toBe(digits(was));
    }
    for (const [was, now] of pairs("SELECT plate AS v FROM vehicles ORDER BY id")) {
      const system = (v: string) =>
        /^[A-Z]{3}\d[A-Z]\d{2}$/.test(v) ? "mercosul" : /^[A-Z]{3}-\d{4}$/.test(v) ? "old" : "bad";
      expect(system(now)).toBe(system(was));
    }
    for (const [, now] of pairs(
      "SELECT email AS v FROM customers WHERE email IS NOT NULL ORDER BY id",
    )) {
      expect(now).toMatch(/^[a-z]+\.[a-z]+\d{1,2}@example\.com$/);
    }
    for (const [was, now] of pairs("SELECT cep AS v FROM customers ORDER BY id")) {
      expect(now).toMatch(/^\d{5}-\d{3}$/);
      expect(now.slice(0, 5)).toBe(was.slice(0, 5));
    }
  });

  it("keeps references consistent across tables and inside notes", () => {
    const invoiceMismatches = query(
      output,
      "SELECT count(*) AS n FROM invoices i JOIN customers c ON c.id = i.customer_id " +
        "WHERE i.customer_name <> c.name " +
        `OR ${bare("i.customer_document")} <> ${bare("c.cpf_cnpj")}`,
    );
    expect(invoiceMismatches).toEqual([{ n: 0 }]);
    const plateMismatches = query(
      output,
      "SELECT count(*) AS n FROM tows t JOIN vehicles v ON v.id = t.vehicle_id " +
        "WHERE t.plate <> v.plate",
    );
    expect(plateMismatches).toEqual([{ n: 0 }]);
    const notes = query(
      output,
      "SELECT t.notes, c.name, t.contact_phone FROM tows t " +
        "JOIN customers c ON c.id = t.customer_id " +
        "WHERE t.notes LIKE 'Cliente %'",
    );
    expect(notes.length).toBeGreaterThan(5);
    for (const row of notes) {
      expect(row.notes).toBe(`Cliente ${row.name} pede ligação antes: ${row.contact_phone}.`);
    }
    const unique = query(output, "SELECT count(DISTINCT plate) AS p, count(*) AS n FROM vehicles");
    expect(unique[0].p).toBe(unique[0].n);
  });

  it("keeps rows, schema, triggers and integrity; empties the sessions table", () => {
    const tables = "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name";
    for (const { name } of query(source, tables)) {
      const rows = (db: string) => query(db, `SELECT count(*) AS n FROM "${name}"`)[0].n;
      expect([name, rows(output)]).toEqual([name, name === "sessions" ? 0 : rows(source)]);
    }
    const schema = "SELECT type, name, sql FROM sqlite_schema ORDER BY type, name";
    expect(query(output, schema)).toEqual(query(source, schema));
    expect(query(output, "PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);
    expect(query(output, "PRAGMA user_version")).toEqual([{ user_version: 7 }]);
    expect(manifest).toMatchObject({ kind: "sanitized", format: "guincho-backup/1" });
  });

  it("publishes a copy that staging's restore drill accepts", () => {
    const drill = runTool("restore", [
      "--source",
      `file://${path.join(dir, "staging")}`,
      "--drill",
      "--scratch-dir",
      path.join(dir, "scratch"),
      "--database",
      path.join(dir, "staging-live.sqlite3"),
    ]);
    expect(drill.status).toBe(0);
    expect(event(drill, "restore_drill_ok")).toMatchObject({ kind: "sanitized", integrity: "ok" });
  });
});

describe("sanitize, other runs", () => {
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir("sanitize"));
  });

  afterEach(() => cleanup());

  it("takes the latest prod backup and draws a new key each run", () => {
    const db = makeDatabase(dir, 30);
    const backups = `file://${path.join(dir, "backups")}`;
    const backup = runTool("backup", [
      "--database",
      db,
      "--destination",
      backups,
      "--kind",
      "daily",
      "--local-dir",
      path.join(dir, "local"),
      "--keep-local",
      "0",
    ]);
    expect(backup.status).toBe(0);
    const name = backup.events.find((e) => e.event === "backup_uploaded")?.manifest;
    const first = sanitize(dir, ["--backup-url", backups]);
    expect(first.status).toBe(0);
    expect(String(name)).toContain(String(event(first, "sanitize_copied").source));
    const { db: one } = unpack(dir, "one.sqlite3");
    fs.rmSync(path.join(dir, "staging"), { recursive: true });
    expect(sanitize(dir, ["--database", db]).status).toBe(0);
    const { db: two } = unpack(dir, "two.sqlite3");
    const documents = (file: string) =>
      query(file, "SELECT cpf_cnpj AS v FROM customers ORDER BY id").map((r) => r.v);
    const same = documents(one).filter((v, i) => v === documents(two)[i]);
    expect(same).toEqual([]);
  });

  it("refuses a column that looks personal and no rule covers, publishing nothing", () => {
    const db = makeDatabase(dir, 10);
    spawnSync("sqlite3", [
      db,
      "ALTER TABLE drivers ADD COLUMN birth_date TEXT; " +
        "ALTER TABLE customers ADD COLUMN whatsapp_contato TEXT",
    ]);
    const result = sanitize(dir, ["--database", db]);
    expect(result.status).toBe(1);
    expect(event(result, "sanitize_failed")).toMatchObject({
      severity: "ERROR",
      error:
        "columns that look personal have no rule: customers.whatsapp_contato, " +
        "drivers.birth_date; " +
        "add a rule for each to the rules file (strategy 'keep' if not personal)",
    });
    expect(fs.existsSync(path.join(dir, "staging"))).toBe(false);
    expect(fs.readdirSync(path.join(dir, "work"))).toEqual([]);
  });

  it("fails closed when a kept column still holds masked originals", () => {
    const db = makeDatabase(dir, 20);
    const rules = JSON.parse(fs.readFileSync(defaultRules, "utf8"));
    rules.rules.unshift({ table: "invoices", column: "customer_name", strategy: "keep" });
    const rulesFile = path.join(dir, "rules.json");
    fs.writeFileSync(rulesFile, JSON.stringify(rules));
    const invoices = Number(query(db, "SELECT count(*) AS n FROM invoices")[0].n);
    const result = sanitize(dir, ["--database", db, "--rules", rulesFile]);
    expect(result.status).toBe(1);
    const failed = event(result, "sanitize_failed");
    expect(failed.leaks).toEqual({ "invoices.customer_name": invoices });
    expect(String(failed.error)).toMatch(
      new RegExp(
        "^original values remain in invoices\\.customer_name; " +
          "\\d+ original values remain in the file's bytes$",
      ),
    );
    expect(fs.existsSync(path.join(dir, "staging"))).toBe(false);
  });

  it("fails closed when a column no rule names quotes a customer's document", () => {
    const db = makeDatabase(dir, 20);
    const sql =
      "ALTER TABLE vehicles ADD COLUMN remarks TEXT; UPDATE vehicles SET remarks = " +
      "'Dono apresentou ' || (SELECT cpf_cnpj FROM customers c WHERE c.id = customer_id);";
    expect(spawnSync("sqlite3", [db, sql], { encoding: "utf8" }).stderr).toBe("");
    const vehicles = Number(query(db, "SELECT count(*) AS n FROM vehicles")[0].n);
    const result = sanitize(dir, ["--database", db]);
    expect(result.status).toBe(1);
    expect(event(result, "sanitize_failed")).toMatchObject({
      error: `${vehicles} original values remain in the file's bytes`,
      leaks: {},
      file_hits: vehicles,
    });
    expect(fs.existsSync(path.join(dir, "staging"))).toBe(false);
  });

  it.each([
    [
      ["--database", "/nope.sqlite3"],
      "sanitize: error: --database '/nope.sqlite3' is not a readable file\n",
    ],
    [
      ["--database", "/dev/null", "--output", "s3://bucket/x"],
      "sanitize: error: --output: 's3://bucket/x' is neither gs://bucket/prefix nor file:///dir\n",
    ],
  ])("refuses %j in one line", (args, message) => {
    const result = runTool("sanitize", ["--output", `file://${dir}/staging`, ...args]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(message);
  });

  it("names the rule and the allowed strategies when a rule is wrong", () => {
    const rulesFile = path.join(dir, "rules.json");
    fs.writeFileSync(
      rulesFile,
      JSON.stringify({
        format: "guincho-sanitize-rules/1",
        rules: [{ column: "x", strategy: "scramble" }],
      }),
    );
    const result = sanitize(dir, ["--database", makeDatabase(dir, 5), "--rules", rulesFile]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `sanitize: error: --rules ${rulesFile}: rules[0]: strategy 'scramble' is not one of ` +
        "address, " +
        "cep, cnpj, company_name, cpf, cpf_cnpj, digits, email, keep, null, person_name, phone, " +
        "plate, redact, street, text\n",
    );
  });
});
