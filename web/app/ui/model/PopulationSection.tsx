import type { ModelCard, OperatingPoint } from "@/lib/definitions";
import { formatPercent } from "@/lib/format";
import { populationPhrase } from "@/lib/population";
import { humanize } from "../common/DataView";

function list(items: string[] | null | undefined): string {
  return items?.length ? items.join(", ") : "—";
}

/** Who the model was validated on, and the check on the image itself that refuses others. */
export function PopulationSection({ card }: { card: ModelCard }) {
  const pop = card.intended_population;
  const check = card.population_check;
  return (
    <section className="section" aria-labelledby="mc-population" data-testid="intended-population">
      <h2 id="mc-population">Intended population</h2>
      {pop ? (
        <>
          <p>
            Validated on {populationPhrase(pop.age_min_years, pop.age_max_years)}. PneumoScan refuses a request whose
            patient is younger or older, and says so before upload when the age is entered.
          </p>
          <dl className="dl">
            <dt>Ages</dt>
            <dd data-testid="population-ages">
              {pop.age_min_years} to {pop.age_max_years} years (both included)
            </dd>
            <dt>Views</dt>
            <dd>{list(pop.views)}</dd>
            {pop.description && (
              <>
                <dt>Description</dt>
                <dd>{pop.description}</dd>
              </>
            )}
          </dl>
        </>
      ) : (
        <p data-testid="population-missing">
          This model run does not state the population it was validated on (it was made before PneumoScan recorded one).
          Read its intended use and limitations below.
        </p>
      )}
      <h3>Population check on the image</h3>
      {check ? (
        <dl className="dl" data-testid="population-check">
          <dt>Method</dt>
          <dd>{humanize(check.kind)}</dd>
          <dt>Threshold</dt>
          <dd>{check.threshold.toPrecision(4)}</dd>
          <dt>Fitted and selected on</dt>
          <dd>{list(check.fitted_on)}</dd>
          <dt>Held out (measured only)</dt>
          <dd>{list(check.held_out)}</dd>
        </dl>
      ) : (
        <p>
          No check on the image itself is recorded for this run: only the patient&apos;s age, when it is known, is
          checked against the population.
        </p>
      )}
    </section>
  );
}

/** Where the decision threshold comes from: the run's validation data, or a site's own labelled images. */
export function OperatingPointSection({ op }: { op: OperatingPoint | null | undefined }) {
  if (!op) return null;
  const perClass = op.n_per_class ? Object.entries(op.n_per_class) : [];
  return (
    <section className="section" aria-labelledby="mc-operating-point" data-testid="operating-point">
      <h2 id="mc-operating-point">Operating point</h2>
      <dl className="dl">
        <dt>Set from</dt>
        <dd>
          {op.source === "site"
            ? `the site's own labelled images${op.site ? `: ${op.site}` : ""}`
            : "the run's validation data"}
        </dd>
        <dt>Threshold</dt>
        <dd>
          {formatPercent(op.threshold)} <span className="hint">(probability {op.threshold.toFixed(4)})</span>
        </dd>
        {(op.label || typeof op.rule === "string") && (
          <>
            <dt>Rule</dt>
            <dd>{op.label ?? (op.rule as string)}</dd>
          </>
        )}
        {perClass.length > 0 && (
          <>
            <dt>Images per class</dt>
            <dd>{perClass.map(([cls, n]) => `${cls} ${n}`).join(", ")}</dd>
          </>
        )}
        {op.date && (
          <>
            <dt>Date</dt>
            <dd>{op.date}</dd>
          </>
        )}
        {op.original_threshold != null && (
          <>
            <dt>Original validation threshold</dt>
            <dd>
              {formatPercent(op.original_threshold)}{" "}
              <span className="hint">(probability {op.original_threshold.toFixed(4)})</span>
            </dd>
          </>
        )}
        {op.recalibration && (
          <>
            <dt>Probability recalibration</dt>
            <dd>{op.recalibration}</dd>
          </>
        )}
      </dl>
    </section>
  );
}
