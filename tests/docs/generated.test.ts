/**
 * The generated pages match what their generators write now: the contact list (stage
 * configs), the architecture diagram (the offline plan of prod) and the top block of each
 * alert runbook (the alert specs and thresholds). When one fails, run the npm script named
 * in the test and commit the result.
 */
import * as fs from "fs";
import { ARCHITECTURE_PAGE, DIAGRAM_STACK, renderArchitecture } from "../../tools/architecture";
import { CONTACTS_PAGE, loadStageConfigs, renderContacts } from "../../tools/contacts";
import { renderRunbooks, updatePage, BEGIN, END } from "../../tools/runbooks";
import { runStage } from "../helpers/program";

describe("generated pages are up to date", () => {
  test("docs/contacts.md (npm run docs:contacts)", () => {
    expect(fs.readFileSync(CONTACTS_PAGE, "utf8")).toBe(renderContacts(loadStageConfigs()));
  });

  test("docs/architecture.md (npm run docs:architecture)", async () => {
    const run = await runStage(DIAGRAM_STACK);
    const page = renderArchitecture({ run, findings: [], exitCode: 0 });
    expect(fs.readFileSync(ARCHITECTURE_PAGE, "utf8")).toBe(page);
  });

  test("the top block of every alert runbook (npm run docs:runbooks)", () => {
    for (const [file, content] of renderRunbooks()) {
      expect({ file, content: fs.readFileSync(file, "utf8") }).toEqual({ file, content });
    }
  });
});

describe("runbook blocks", () => {
  test("replace only what lies between the markers", () => {
    const page = `${BEGIN}\nold\n${END}\n\n## Commands\n\nmine\n`;
    expect(updatePage(page, `${BEGIN}\nnew\n${END}`)).toBe(
      `${BEGIN}\nnew\n${END}\n\n## Commands\n\nmine\n`,
    );
  });

  test("start a new page with the block and the sections to write", () => {
    expect(updatePage(undefined, `${BEGIN}\nx\n${END}`)).toBe(
      `${BEGIN}\nx\n${END}\n\n## Commands\n\n## Resolve\n\n## Verify\n`,
    );
  });

  test("show prod's threshold and say why a stage has no such alert", () => {
    const prod = fs.readFileSync("docs/runbooks/uptime-healthz.md", "utf8");
    expect(prod).toContain("| dev | none: no load balancer in this stage |");
    expect(prod).toContain(
      '| prod | https://app.guincholacerda.com.br/healthz fails (no 2xx, or no "status": "ok") ' +
        "from 2 or more checker locations for 5 minutes |",
    );
  });
});
