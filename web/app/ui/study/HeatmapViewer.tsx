"use client";
import { useId, useState } from "react";

/**
 * The X-ray with the Grad-CAM heatmap laid over it: a switch to show or hide the heatmap and a
 * slider for its opacity. The heatmap image is named "Heatmap overlay" for assistive technology.
 */
export function HeatmapViewer({
  imageUrl,
  heatmapUrl,
  initialOpacity = 60,
}: {
  imageUrl: string;
  heatmapUrl: string | null;
  initialOpacity?: number;
}) {
  const [show, setShow] = useState(true);
  const [opacity, setOpacity] = useState(initialOpacity);
  const [baseState, setBaseState] = useState<"loading" | "ok" | "error">("loading");
  const [heatState, setHeatState] = useState<"loading" | "ok" | "error">("loading");
  const id = useId();

  return (
    <figure className="viewer">
      <div className={`viewer__stage${baseState === "loading" ? " viewer__stage--loading" : ""}`}>
        {baseState === "error" ? (
          <p className="viewer__missing" role="alert">
            The X-ray image could not be loaded from the server.
          </p>
        ) : (
          // eslint-disable-next-line @next/next/no-img-element
          <img
            className="viewer__base"
            src={imageUrl}
            alt="Chest X-ray"
            onLoad={() => setBaseState("ok")}
            onError={() => setBaseState("error")}
          />
        )}
        {heatmapUrl && heatState !== "error" && baseState !== "error" && (
          // eslint-disable-next-line @next/next/no-img-element
          <img
            className="viewer__overlay"
            src={heatmapUrl}
            alt="Heatmap overlay"
            hidden={!show}
            style={{ opacity: opacity / 100 }}
            onLoad={() => setHeatState("ok")}
            onError={() => setHeatState("error")}
            data-testid="heatmap"
          />
        )}
      </div>
      <figcaption className="viewer__controls">
        {heatmapUrl && heatState !== "error" ? (
          <>
            <label className="switch" htmlFor={`${id}-show`}>
              <input
                id={`${id}-show`}
                type="checkbox"
                role="switch"
                checked={show}
                onChange={(e) => setShow(e.target.checked)}
              />
              <span>Show heatmap</span>
            </label>
            <div className="slider">
              <label htmlFor={`${id}-opacity`}>Heatmap opacity</label>
              <input
                id={`${id}-opacity`}
                type="range"
                min={0}
                max={100}
                step={5}
                value={opacity}
                disabled={!show}
                aria-valuetext={`${opacity}%`}
                onChange={(e) => setOpacity(Number(e.target.value))}
              />
              <output htmlFor={`${id}-opacity`} className="slider__value" aria-hidden="true">
                {opacity}%
              </output>
            </div>
          </>
        ) : (
          <p className="hint">
            {heatmapUrl ? "The heatmap could not be loaded from the server." : "No heatmap for this study."}
          </p>
        )}
        <p className="hint">
          The heatmap (Grad-CAM) marks in warm colours the regions that weighed most in the model&apos;s answer. It
          shows where the model looked, not where the disease is.
        </p>
      </figcaption>
    </figure>
  );
}
