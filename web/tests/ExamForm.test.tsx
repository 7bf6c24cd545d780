import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ComponentProps } from "react";
import { describe, expect, it, vi } from "vitest";
import { ExamForm, type ExamApi } from "@/app/ui/exam/ExamForm";
import { ApiError } from "@/lib/api";
import { MESSAGES } from "@/lib/validation";
import { DICOM_INSPECT, PATIENT, PNG_INSPECT, POPULATION, dicomFile, makeStudy, pngFile } from "./fixtures";

const TODAY = new Date(2024, 5, 15);

function setup(api: Partial<ExamApi> = {}, props: Partial<ComponentProps<typeof ExamForm>> = {}) {
  const full: ExamApi = {
    inspectImage: vi.fn().mockResolvedValue(PNG_INSPECT),
    createPatient: vi.fn().mockResolvedValue(PATIENT),
    uploadStudy: vi.fn().mockImplementation(async (_f: File, _id: number | null, onProgress?: (n: number) => void) => {
      onProgress?.(1);
      return makeStudy();
    }),
    ...api,
  };
  const onDone = vi.fn();
  const user = userEvent.setup();
  render(<ExamForm onDone={onDone} api={full} today={TODAY} {...props} />);
  return { api: full, onDone, user };
}

async function fillValid(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByLabelText("Patient name"), "Amina Yusuf");
  await user.type(screen.getByLabelText("Patient ID (MRN)"), "MRN-0042");
  await user.selectOptions(screen.getByLabelText("Sex"), "female");
  fireEvent.change(screen.getByLabelText("Birth date"), { target: { value: "2019-04-23" } });
  await user.type(screen.getByLabelText("Referring doctor"), "Dr. Okafor");
  await user.type(screen.getByLabelText("Symptoms and notes"), "Fever for 3 days");
}

async function chooseImage(user: ReturnType<typeof userEvent.setup>, file: File = pngFile()) {
  await user.upload(screen.getByLabelText("Chest X-ray image"), file);
}

function fieldError(label: string): string | null {
  const input = screen.getByLabelText(label);
  const ids = (input.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id.endsWith("-error"));
  return ids.length ? (document.getElementById(ids[0])?.textContent ?? null) : null;
}

describe("ExamForm validation", () => {
  it("shows each required field's error on an empty submit, and calls no API", async () => {
    const { api, user } = setup();
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));

    expect(screen.getByText(MESSAGES.nameRequired)).toBeInTheDocument();
    expect(screen.getByText(MESSAGES.mrnRequired)).toBeInTheDocument();
    expect(screen.getByText(MESSAGES.sexRequired)).toBeInTheDocument();
    expect(screen.getByText(MESSAGES.birthOrAgeRequired)).toBeInTheDocument();
    expect(screen.getByText(MESSAGES.imageRequired)).toBeInTheDocument();
    expect(screen.getByTestId("form-summary")).toHaveTextContent("5 details need attention");

    // Each message is tied to its field for assistive technology.
    expect(screen.getByLabelText("Patient name")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Patient name")).toHaveAccessibleDescription(MESSAGES.nameRequired);
    expect(fieldError("Patient ID (MRN)")).toBe(MESSAGES.mrnRequired);
    expect(fieldError("Sex")).toBe(MESSAGES.sexRequired);
    expect(fieldError("Birth date")).toBe(MESSAGES.birthOrAgeRequired);
    expect(screen.getByLabelText("Chest X-ray image")).toHaveAccessibleDescription(
      expect.stringContaining(MESSAGES.imageRequired),
    );
    // Optional fields are not flagged.
    expect(fieldError("Referring doctor")).toBeNull();
    expect(fieldError("Symptoms and notes")).toBeNull();

    // Focus goes to the first field that needs attention.
    expect(screen.getByLabelText("Patient name")).toHaveFocus();
    expect(api.createPatient).not.toHaveBeenCalled();
    expect(api.uploadStudy).not.toHaveBeenCalled();
  });

  it("clears a field's error as soon as it is corrected", async () => {
    const { user } = setup();
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(screen.getByText(MESSAGES.nameRequired)).toBeInTheDocument();
    await user.type(screen.getByLabelText("Patient name"), "A");
    expect(screen.queryByText(MESSAGES.nameRequired)).not.toBeInTheDocument();
    expect(screen.getByText(MESSAGES.mrnRequired)).toBeInTheDocument();
  });

  it("rejects a birth date in the future", async () => {
    const { api, user } = setup();
    await fillValid(user);
    fireEvent.change(screen.getByLabelText("Birth date"), { target: { value: "2030-01-01" } });
    await chooseImage(user);
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(fieldError("Birth date")).toBe(MESSAGES.birthDateFuture);
    expect(screen.getByLabelText("Birth date")).toHaveFocus();
    expect(api.createPatient).not.toHaveBeenCalled();
  });

  it("rejects a birth date before the server's earliest (1 January, 130 years back)", async () => {
    const { user } = setup();
    await fillValid(user);
    fireEvent.change(screen.getByLabelText("Birth date"), { target: { value: "1893-12-31" } });
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(fieldError("Birth date")).toBe(MESSAGES.birthDateTooOld("1894-01-01"));
    expect(screen.getByLabelText("Birth date")).toHaveAttribute("min", "1894-01-01");
  });

  it("rejects an age out of range", async () => {
    const { api, user } = setup();
    await fillValid(user);
    fireEvent.change(screen.getByLabelText("Birth date"), { target: { value: "" } });
    await user.type(screen.getByLabelText("Age (years)"), "131");
    await chooseImage(user);
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(fieldError("Age (years)")).toBe(MESSAGES.ageRange);
    expect(fieldError("Birth date")).toBeNull();
    expect(screen.getByTestId("form-summary")).toHaveTextContent("One detail needs attention");
    expect(api.createPatient).not.toHaveBeenCalled();
  });
});

describe("ExamForm image and submission", () => {
  it("previews the chosen image through /api/inspect", async () => {
    const { api, user } = setup();
    const file = pngFile("xray.png");
    await chooseImage(user, file);
    expect(api.inspectImage).toHaveBeenCalledWith(file);
    expect(await screen.findByAltText("Preview of the chosen X-ray")).toHaveAttribute("src", PNG_INSPECT.preview);
    expect(screen.getByText("xray.png")).toBeInTheDocument();
    expect(screen.getByText(/1024 × 1024 px/)).toBeInTheDocument();
  });

  it("prefills from DICOM tags only the fields the user has not typed in", async () => {
    const { user } = setup({ inspectImage: vi.fn().mockResolvedValue(DICOM_INSPECT) });
    await user.type(screen.getByLabelText("Patient name"), "Typed Name");
    await chooseImage(user, dicomFile());
    await waitFor(() => expect(screen.getByLabelText("Patient ID (MRN)")).toHaveValue("DCM-123"));
    expect(screen.getByLabelText("Patient name")).toHaveValue("Typed Name");
    expect(screen.getByLabelText("Sex")).toHaveValue("female");
    expect(screen.getByLabelText("Birth date")).toHaveValue("2016-02-29");
    expect(screen.getByTestId("prefill-status")).toHaveTextContent(
      "Filled in from the DICOM header: Patient ID (MRN), Sex, Birth date.",
    );
    expect(within(screen.getByTestId("dicom-tags")).getByText("DX")).toBeInTheDocument();
  });

  it("fills the name from DICOM when the name field is empty", async () => {
    const { user } = setup({ inspectImage: vi.fn().mockResolvedValue(DICOM_INSPECT) });
    await chooseImage(user, dicomFile());
    await waitFor(() => expect(screen.getByLabelText("Patient name")).toHaveValue("Jane Doe"));
  });

  it("creates the patient, uploads the study and hands it on", async () => {
    const { api, onDone, user } = setup();
    await fillValid(user);
    const file = pngFile();
    await chooseImage(user, file);
    await screen.findByAltText("Preview of the chosen X-ray");
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    await waitFor(() => expect(onDone).toHaveBeenCalledWith(makeStudy()));
    expect(api.createPatient).toHaveBeenCalledWith({
      name: "Amina Yusuf",
      mrn: "MRN-0042",
      sex: "female",
      birth_date: "2019-04-23",
      referring_doctor: "Dr. Okafor",
      notes: "Fever for 3 days",
    });
    expect(api.uploadStudy).toHaveBeenCalledWith(file, PATIENT.id, expect.any(Function));
    expect(screen.getByTestId("submit-progress")).toHaveTextContent("Opening the result");
  });

  it("shows the refusal in plain words, keeps the details, and lets the user try another image", async () => {
    const refusal = new ApiError({
      status: 422,
      code: "not_chest_xray",
      reason: "photograph",
      message: "This image looks like a photograph. Upload a chest X-ray.",
    });
    const uploadStudy = vi
      .fn()
      .mockRejectedValueOnce(refusal)
      .mockResolvedValueOnce(makeStudy({ id: 13 }));
    const { api, onDone, user } = setup({ uploadStudy });
    await fillValid(user);
    await chooseImage(user, pngFile("holiday.jpg"));
    await screen.findByAltText("Preview of the chosen X-ray");
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));

    const alert = await screen.findByTestId("refusal");
    expect(alert).toHaveAttribute("role", "alert");
    expect(alert).toHaveTextContent("This looks like an ordinary photograph, not an X-ray.");
    expect(alert).toHaveTextContent("This image looks like a photograph. Upload a chest X-ray.");
    expect(onDone).not.toHaveBeenCalled();

    await user.click(within(alert).getByRole("button", { name: "Try another image" }));
    expect(screen.queryByTestId("refusal")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Browse files…" })).toHaveFocus();
    // A fresh start on the image: no "choose an image" error before the next press.
    expect(screen.queryByTestId("error-image")).not.toBeInTheDocument();
    expect(screen.queryByText("holiday.jpg")).not.toBeInTheDocument();
    expect(screen.getByLabelText("Patient name")).toHaveValue("Amina Yusuf");
    expect(screen.getByLabelText("Patient ID (MRN)")).toHaveValue("MRN-0042");

    await chooseImage(user, pngFile("chest.png"));
    await screen.findByAltText("Preview of the chosen X-ray");
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    await waitFor(() => expect(onDone).toHaveBeenCalledWith(makeStudy({ id: 13 })));
    // The patient created on the first try is reused, not duplicated.
    expect(api.createPatient).toHaveBeenCalledTimes(1);
  });

  it("waits for the image to be read when Analyse is pressed early, then goes on", async () => {
    let finishInspect: (r: typeof DICOM_INSPECT) => void = () => {};
    const inspectImage = vi.fn().mockReturnValue(new Promise((resolve) => (finishInspect = resolve)));
    const { api, onDone, user } = setup({ inspectImage });
    await fillValid(user);
    await chooseImage(user, dicomFile());
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(screen.getByTestId("submit-progress")).toHaveTextContent("Reading the image before analysis");
    expect(api.createPatient).not.toHaveBeenCalled();
    finishInspect(DICOM_INSPECT);
    await waitFor(() => expect(onDone).toHaveBeenCalled());
    // The typed details win over the DICOM header's.
    expect(api.createPatient).toHaveBeenCalledWith(expect.objectContaining({ name: "Amina Yusuf", mrn: "MRN-0042" }));
  });

  it("keeps the error summary's count in step with the fields", async () => {
    const { user } = setup();
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(screen.getByTestId("form-summary")).toHaveTextContent("5 details need attention");
    await user.type(screen.getByLabelText("Patient name"), "Amina");
    expect(screen.getByTestId("form-summary")).toHaveTextContent("4 details need attention");
  });

  it("shows other API errors verbatim and keeps the form", async () => {
    const createPatient = vi
      .fn()
      .mockRejectedValue(
        new ApiError({ status: 400, code: "invalid_field", message: "mrn: already used by another patient." }),
      );
    const { user } = setup({ createPatient });
    await fillValid(user);
    await chooseImage(user);
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(await screen.findByTestId("api-error-message")).toHaveTextContent("mrn: already used by another patient.");
    expect(screen.getByLabelText("Patient name")).toHaveValue("Amina Yusuf");
  });

  it("offers to add the X-ray to the patient who already has the MRN", async () => {
    const createPatient = vi.fn().mockRejectedValue(
      new ApiError({
        status: 400,
        code: "duplicate_mrn",
        field: "mrn",
        patientId: 3,
        message: "Another patient (id 3) already has MRN MRN-0042.",
      }),
    );
    const { api, onDone, user } = setup({ createPatient });
    await fillValid(user);
    await chooseImage(user);
    await screen.findByAltText("Preview of the chosen X-ray");
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(await screen.findByTestId("api-error-message")).toHaveTextContent("Another patient (id 3) already has MRN");
    expect(fieldError("Patient ID (MRN)")).toBe("Another patient (id 3) already has MRN MRN-0042.");
    expect(screen.getByRole("link", { name: /See that patient's record/ })).toHaveAttribute("href", "/patient/?id=3");

    await user.click(screen.getByRole("button", { name: "Add the X-ray to the existing patient" }));
    await waitFor(() => expect(onDone).toHaveBeenCalled());
    expect(api.uploadStudy).toHaveBeenCalledWith(expect.any(File), 3, expect.any(Function));
    expect(createPatient).toHaveBeenCalledTimes(1);
  });

  it("marks the field the server objected to", async () => {
    const createPatient = vi.fn().mockRejectedValue(
      new ApiError({
        status: 400,
        code: "invalid_field",
        field: "referring_doctor",
        message: "referring_doctor: too odd.",
      }),
    );
    const { user } = setup({ createPatient });
    await fillValid(user);
    await chooseImage(user);
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    await waitFor(() => expect(fieldError("Referring doctor")).toBe("referring_doctor: too odd."));
    // Focus moves in an effect after the render that re-enables the fields.
    await waitFor(() => expect(screen.getByLabelText("Referring doctor")).toHaveFocus());
  });

  it("warns before upload when the cheap checks would refuse the image", async () => {
    const inspectImage = vi.fn().mockResolvedValue({
      ...PNG_INSPECT,
      refusal: { reason: "photograph", message: "The image is in colour." },
    });
    const { user } = setup({ inspectImage });
    await chooseImage(user);
    const warning = await screen.findByTestId("inspect-warning");
    expect(warning).toHaveTextContent("This image will probably be refused.");
    expect(warning).toHaveTextContent("The image is in colour.");
  });

  it("says when the chosen file cannot be read", async () => {
    const inspectImage = vi.fn().mockRejectedValue(
      new ApiError({
        status: 400,
        code: "unreadable_image",
        message: "The file could not be decoded as PNG, JPEG or DICOM.",
      }),
    );
    const { api, user } = setup({ inspectImage });
    await fillValid(user);
    await chooseImage(user, new File(["hello"], "broken.png", { type: "image/png" }));
    expect(await screen.findByTestId("inspect-error")).toHaveTextContent(
      "The file could not be decoded as PNG, JPEG or DICOM.",
    );
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(screen.getByTestId("error-image")).toHaveTextContent("This file cannot be used");
    expect(api.createPatient).not.toHaveBeenCalled();
  });
});

describe("ExamForm for an existing patient", () => {
  function setupFor(api: Partial<ExamApi> = {}) {
    const full: ExamApi = {
      inspectImage: vi.fn().mockResolvedValue(DICOM_INSPECT),
      createPatient: vi.fn(),
      uploadStudy: vi.fn().mockResolvedValue(makeStudy()),
      ...api,
    };
    const onDone = vi.fn();
    const user = userEvent.setup();
    render(<ExamForm onDone={onDone} api={full} today={TODAY} patient={PATIENT} />);
    return { api: full, onDone, user };
  }

  it("asks only for the X-ray and adds it to that patient", async () => {
    const { api, onDone, user } = setupFor();
    expect(screen.getByRole("heading", { name: `New examination for ${PATIENT.name}` })).toBeInTheDocument();
    expect(screen.queryByLabelText("Patient name")).not.toBeInTheDocument();
    expect(screen.getByTestId("exam-patient")).toHaveTextContent(PATIENT.mrn);

    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    expect(screen.getByTestId("form-summary")).toHaveTextContent("One detail needs attention");
    expect(screen.getByText(MESSAGES.imageRequired)).toBeInTheDocument();

    await chooseImage(user, dicomFile());
    // The DICOM header names someone else: say so, change nothing.
    expect(await screen.findByTestId("prefill-status")).toHaveTextContent(
      `this DICOM file's patient ID is DCM-123, but ${PATIENT.name}'s MRN is ${PATIENT.mrn}`,
    );
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));
    await waitFor(() => expect(onDone).toHaveBeenCalled());
    expect(api.createPatient).not.toHaveBeenCalled();
    expect(api.uploadStudy).toHaveBeenCalledWith(expect.any(File), PATIENT.id, expect.any(Function));
  });
});

describe("ExamForm and the model's intended population", () => {
  const warning = () => screen.queryByTestId("population-warning");

  it("warns as soon as an age outside the population is typed, and stops when it is corrected", async () => {
    const { user } = setup({}, { population: POPULATION });
    expect(warning()).toBeNull();
    const age = screen.getByLabelText("Age (years)");
    await user.type(age, "4");
    expect(warning()).toBeNull();
    await user.type(age, "0"); // now 40
    expect(warning()).toHaveTextContent(
      "The model was validated on children aged 1–5 years; this patient is 40 years old",
    );
    expect(warning()).toHaveTextContent(
      "Read the film without PneumoScan, or use a model that was validated for this population.",
    );
    expect(warning()).toHaveTextContent(POPULATION.description!);
    // Inside a live region, so that it is announced as it appears.
    expect(warning()!.closest("[role=status]")).not.toBeNull();
    await user.clear(age);
    expect(warning()).toBeNull();
    await user.type(age, "6"); // max + 1 is outside
    expect(warning()).toHaveTextContent("this patient is 6 years old");
    await user.clear(age);
    await user.type(age, "5"); // max is inside
    expect(warning()).toBeNull();
  });

  it("reads the age from the birth date too (an infant under 1 is outside 1–5)", async () => {
    setup({}, { population: POPULATION });
    const birth = screen.getByLabelText("Birth date");
    fireEvent.change(birth, { target: { value: "2019-04-23" } }); // 5 on TODAY
    expect(warning()).toBeNull();
    fireEvent.change(birth, { target: { value: "2024-01-10" } }); // 0 on TODAY
    expect(warning()).toHaveTextContent("this patient is 0 years old");
  });

  it("says nothing when the model card states no population", async () => {
    const { user } = setup();
    await user.type(screen.getByLabelText("Age (years)"), "40");
    expect(warning()).toBeNull();
  });

  it("warns for a patient on record whose age is outside", () => {
    const adult = { ...PATIENT, birth_date: null, age_years: 30 };
    render(<ExamForm onDone={vi.fn()} api={{} as ExamApi} today={TODAY} patient={adult} population={POPULATION} />);
    expect(within(screen.getByTestId("exam-patient")).getByTestId("population-warning")).toHaveTextContent(
      "this patient is 30 years old",
    );
  });

  it("explains an age refusal in plain words, with what to do, and no 'Try another image'", async () => {
    const refusal = new ApiError({
      status: 422,
      code: "not_chest_xray",
      reason: "outside_intended_population",
      message: "The patient is 40 years old; this model is validated for ages 1 to 5.",
      detail: { age_years: 40, age_min_years: 1, age_max_years: 5 },
    });
    const { user } = setup({ uploadStudy: vi.fn().mockRejectedValue(refusal) }, { population: POPULATION });
    await fillValid(user);
    await chooseImage(user);
    await screen.findByAltText("Preview of the chosen X-ray");
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));

    const notice = await screen.findByTestId("refusal");
    expect(within(notice).getByTestId("refusal-reason")).toHaveTextContent(
      "The model was validated on children aged 1–5 years; this patient is 40 years old, so its answer would not be reliable.",
    );
    expect(within(notice).getByTestId("refusal-message")).toHaveTextContent(refusal.message);
    expect(within(notice).getByTestId("refusal-advice")).toHaveTextContent(
      "What you can do: Read the film without PneumoScan, or use a model that was validated for this population.",
    );
    expect(notice).not.toHaveTextContent("only reads frontal chest X-rays");
    expect(within(notice).queryByRole("button", { name: "Try another image" })).toBeNull();
    expect(notice).toHaveFocus();
  });

  it("explains an image population-check refusal, naming the validated population", async () => {
    const refusal = new ApiError({
      status: 422,
      code: "not_chest_xray",
      reason: "outside_intended_population",
      message: "This X-ray is unlike the population the model was validated on.",
      detail: { score: 0.93, threshold: 0.5 },
    });
    const { user } = setup({ uploadStudy: vi.fn().mockRejectedValue(refusal) }, { population: POPULATION });
    await fillValid(user);
    await chooseImage(user);
    await screen.findByAltText("Preview of the chosen X-ray");
    await user.click(screen.getByRole("button", { name: "Analyse X-ray" }));

    const notice = await screen.findByTestId("refusal");
    expect(within(notice).getByTestId("refusal-reason")).toHaveTextContent(
      "This X-ray looks unlike the X-rays the model was validated on",
    );
    expect(within(notice).getByTestId("refusal-reason")).toHaveTextContent(
      "The model was validated on children aged 1–5 years (PA or AP views).",
    );
    expect(within(notice).getByTestId("refusal-advice")).toHaveTextContent("Read the film without PneumoScan");
    expect(within(notice).getByRole("button", { name: "Try another image" })).toBeInTheDocument();
  });
});
