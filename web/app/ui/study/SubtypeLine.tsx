import type { Prediction } from "@/lib/definitions";

/** "Pattern more like bacterial/viral pneumonia (P(viral) = ..., viral from ...)": only under a pneumonia answer that carries one. */
export function SubtypeLine({ prediction }: { prediction: Prediction }) {
  const subtype = prediction.label === "PNEUMONIA" ? prediction.subtype : null;
  if (!subtype) return null;
  return (
    <p className="result__subtype" data-testid="result-subtype">
      {subtype.wording}
    </p>
  );
}
