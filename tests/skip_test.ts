/** The end-of-run summary of ignored tests (tests/_skip.ts). */
import { assertEquals } from "./_asserts.ts";
import { ignoredSummary } from "./_skip.ts";

Deno.test("ignoredSummary counts the ignored tests by reason, most common first", () => {
  const t = (name: string, reason: string) => ({ name, reason });
  assertEquals(
    ignoredSummary([
      t("a", "shader-f16"),
      t("b", "../shared/data files"),
      t("c", "--allow-run"),
      t("d", "../shared/data files"),
      t("e", "shader-f16"),
      t("f", "../shared/data files"),
      t("g", "the torchvision fixture"),
    ]),
    "ignored 7: 3 need ../shared/data files, 2 need shader-f16, 1 needs --allow-run, 1 needs the torchvision fixture",
  );
  assertEquals(ignoredSummary([]), "ignored 0: every registered test could run here");
});
