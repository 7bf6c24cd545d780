import { describe, expect, it } from "vitest";
import {
  ageOn,
  dateFromDicom,
  formatMetric,
  formatPercent,
  formatProbability,
  formatVersus,
  nameFromDicom,
  parseId,
  refusalReasonText,
  sexFromDicom,
} from "@/lib/format";

describe("format helpers", () => {
  it("formats percentages and metrics", () => {
    expect(formatPercent(0.934)).toBe("93.4%");
    expect(formatPercent(null)).toBe("—");
    expect(formatMetric({ value: 0.9123, ci_low: 0.89, ci_high: 0.931 })).toBe("0.912 (95% CI 0.890–0.931)");
  });

  it("never rounds a probability to certainty", () => {
    expect(formatProbability(0.99996)).toBe(">99.9%");
    expect(formatProbability(1)).toBe("100.0%");
    expect(formatProbability(0.00002)).toBe("<0.1%");
    expect(formatProbability(0)).toBe("0.0%");
    expect(formatProbability(0.5)).toBe("50.0%");
  });

  it("adds decimals until a probability and its threshold read differently", () => {
    expect(formatVersus(0.934, 0.41)).toEqual(["93.4%", "41.0%"]);
    expect(formatVersus(0.4104, 0.41)).toEqual(["41.04%", "41.00%"]);
    expect(formatVersus(0.99991, 0.99952)).toEqual(["99.99%", "99.95%"]);
    expect(formatVersus(0.999912, 0.999908)).toEqual(["99.9912%", "99.9908%"]);
    expect(formatVersus(0.41, 0.41)).toEqual(["41.0%", "41.0%"]);
  });

  it("reads DICOM names, sexes and dates", () => {
    expect(nameFromDicom("Doe^Jane")).toBe("Jane Doe");
    expect(nameFromDicom("Doe^Jane^Q^Dr")).toBe("Dr Jane Q Doe");
    expect(nameFromDicom("Jane Doe")).toBe("Jane Doe");
    expect(sexFromDicom("F")).toBe("female");
    expect(sexFromDicom("M")).toBe("male");
    expect(sexFromDicom("")).toBeNull();
    expect(dateFromDicom("20160229")).toBe("2016-02-29");
    expect(dateFromDicom("2016-02-29")).toBe("2016-02-29");
    expect(dateFromDicom("20150229")).toBeNull();
  });

  it("computes ages on a given day", () => {
    expect(ageOn("2019-06-15", new Date(2024, 5, 15))).toBe(5);
    expect(ageOn("2019-06-16", new Date(2024, 5, 15))).toBe(4);
  });

  it("parses ?id= values strictly", () => {
    expect(parseId("12")).toBe(12);
    for (const bad of [null, "", "0", "-3", "1.5", "abc", "12abc"]) expect(parseId(bad)).toBeNull();
  });

  it("explains refusal reasons in plain words", () => {
    expect(refusalReasonText("photograph")).toMatch(/photograph/);
    expect(refusalReasonText("something_new")).toMatch(/something new/);
    expect(refusalReasonText(null)).toMatch(/chest X-ray/);
  });
});
