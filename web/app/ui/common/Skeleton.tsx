/** Grey placeholder blocks while data loads; the status text is read by screen readers. */
export function Skeleton({
  lines = 3,
  image = false,
  label = "Loading…",
}: {
  lines?: number;
  image?: boolean;
  label?: string;
}) {
  return (
    <div className="skeleton" aria-busy="true" data-testid="skeleton">
      <p className="visually-hidden" role="status">
        {label}
      </p>
      <div className="skeleton__block skeleton__block--title" />
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton__block" style={{ width: `${90 - i * 12}%` }} />
      ))}
      {image && <div className="skeleton__block skeleton__block--image" />}
    </div>
  );
}
