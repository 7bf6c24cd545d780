import { describe, expect, it } from "vitest";
import {
  INITIAL_SUBMIT_STATE,
  examSubmitReducer,
  isBusy,
  type ExamSubmitAction,
  type ExamSubmitState,
} from "@/app/ui/exam/useExamSubmit";
import { ApiError } from "@/lib/api";

/** The state after each action in turn, from the initial state. */
function run(...actions: ExamSubmitAction[]): ExamSubmitState {
  return actions.reduce(examSubmitReducer, INITIAL_SUBMIT_STATE);
}

const REFUSAL = new ApiError({ status: 422, code: "not_chest_xray", reason: "photograph", message: "A photo." });

describe("examSubmitReducer", () => {
  it("starts editing, with nothing shown", () => {
    expect(INITIAL_SUBMIT_STATE.phase).toBe("editing");
    expect(INITIAL_SUBMIT_STATE.showErrors).toBe(false);
    expect(isBusy("editing")).toBe(false);
  });

  it("goes editing -> submitting (saving, uploading, analysing) -> done", () => {
    let s = run({ type: "start" });
    expect([s.phase, s.step, s.showErrors]).toEqual(["submitting", "saving", true]);
    expect(isBusy(s.phase)).toBe(true);
    s = examSubmitReducer(s, { type: "uploading" });
    expect([s.step, s.uploadFraction]).toEqual(["uploading", 0]);
    s = examSubmitReducer(s, { type: "progress", fraction: 0.5 });
    expect([s.step, s.uploadFraction]).toEqual(["uploading", 0.5]);
    s = examSubmitReducer(s, { type: "progress", fraction: 1 });
    expect(s.step).toBe("analysing");
    s = examSubmitReducer(s, { type: "done" });
    expect(s.phase).toBe("done");
    expect(isBusy(s.phase)).toBe(true);
  });

  it("ignores a second press while submitting and progress when not submitting", () => {
    const submitting = run({ type: "start" }, { type: "uploading" });
    expect(examSubmitReducer(submitting, { type: "start" })).toBe(submitting);
    expect(examSubmitReducer(submitting, { type: "invalid", first: "name" })).toBe(submitting);
    expect(run({ type: "progress", fraction: 0.7 })).toBe(INITIAL_SUBMIT_STATE);
    expect(run({ type: "done" })).toBe(INITIAL_SUBMIT_STATE);
  });

  it("waits for the image in reading_image, then either submits or stops on errors", () => {
    const waiting = run({ type: "wait_for_image" });
    expect(waiting.phase).toBe("reading_image");
    expect(isBusy(waiting.phase)).toBe(true);
    expect(examSubmitReducer(waiting, { type: "start" }).phase).toBe("submitting");
    const invalid = examSubmitReducer(waiting, { type: "invalid", first: "mrn" });
    expect(invalid.phase).toBe("editing");
    expect(invalid.showSummary).toBe(true);
    expect(invalid.focus?.target).toBe("mrn");
  });

  it("asks for focus again on every invalid press, even on the same field", () => {
    const first = run({ type: "invalid", first: "name" });
    const second = examSubmitReducer(first, { type: "invalid", first: "name" });
    expect(second.focus).toEqual({ target: "name", seq: (first.focus?.seq ?? 0) + 1 });
    expect(second.focus).not.toBe(first.focus);
  });

  it("keeps a refusal until a new image, and moves focus to the picker on 'Try another image'", () => {
    const refused = run({ type: "start" }, { type: "refused", refusal: REFUSAL });
    expect(refused.phase).toBe("refused");
    expect(refused.refusal).toBe(REFUSAL);
    expect(isBusy(refused.phase)).toBe(false);
    expect(examSubmitReducer(refused, { type: "edited" }).refusal).toBe(REFUSAL);

    const chosen = examSubmitReducer(refused, { type: "new_image" });
    expect([chosen.phase, chosen.refusal]).toEqual(["editing", null]);

    const another = examSubmitReducer(refused, { type: "try_another_image" });
    expect([another.phase, another.refusal, another.showErrors]).toEqual(["editing", null, false]);
    expect(another.focus?.target).toBe("image");
  });

  it("marks and focuses the form field the server objected to, until the next edit", () => {
    const err = new ApiError({ status: 400, code: "invalid_field", field: "notes", message: "notes: too long." });
    const failed = run({ type: "start" }, { type: "failed", error: err });
    expect(failed.phase).toBe("error");
    expect(failed.error).toBe(err);
    expect(failed.serverError).toEqual({ field: "notes", message: "notes: too long." });
    expect(failed.focus?.target).toBe("notes");
    const edited = examSubmitReducer(failed, { type: "edited" });
    expect(edited.serverError).toBeNull();
    expect(edited.phase).toBe("error"); // the notice stays until the next press
  });

  it("does not mark or focus a field that is not the form's", () => {
    const err = new ApiError({ status: 400, code: "invalid_field", field: "patient_id", message: "No such patient." });
    const failed = run({ type: "failed", error: err });
    expect(failed.serverError).toBeNull();
    expect(failed.focus).toBeNull();
  });

  it("leaves the error for editing when the X-ray goes to the existing patient", () => {
    const err = new ApiError({ status: 422, code: "duplicate_mrn", field: "mrn", patientId: 3, message: "Taken." });
    const s = run({ type: "start" }, { type: "failed", error: err }, { type: "use_existing_patient" });
    expect([s.phase, s.error, s.serverError]).toEqual(["editing", null, null]);
  });
});
