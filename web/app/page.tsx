import Link from "next/link";
import { ServiceStatus } from "./ui/home/ServiceStatus";

export default function HomePage() {
  return (
    <>
      <section className="hero" aria-labelledby="hero-title">
        <h1 id="hero-title">Pneumonia screening support for children&apos;s chest X-rays</h1>
        <p className="lead">
          PneumoScan reads a pediatric chest X-ray, gives the probability that it shows pneumonia, and draws a heatmap
          of the regions that drove its answer, so that a clinician can check its reasoning in seconds.
        </p>
        <p className="hero__actions">
          <Link href="/exam/" className="button">
            Start a new examination
          </Link>
          <Link href="/patients/" className="button button--secondary">
            Find a patient
          </Link>
        </p>
        <ServiceStatus />
      </section>

      <section aria-labelledby="what-title" className="section">
        <h2 id="what-title">What the tool does</h2>
        <ol className="steps">
          <li>
            <strong>Record the patient.</strong> Name, patient ID (MRN), sex, birth date or age, referring doctor and
            symptoms.
          </li>
          <li>
            <strong>Add the X-ray.</strong> Drop a PNG, JPEG or DICOM file. DICOM headers fill in the patient&apos;s
            details for you.
          </li>
          <li>
            <strong>Read the result.</strong> The label, the probability of pneumonia against the decision threshold,
            and the heatmap over the image.
          </li>
          <li>
            <strong>Print or file the report.</strong> A one-page report with the image, the heatmap, the result and the
            model that produced it.
          </li>
        </ol>
      </section>

      <section aria-labelledby="why-title" className="section">
        <h2 id="why-title">Why use it</h2>
        <ul className="cards">
          <li className="card">
            <h3>Seconds per image, on an ordinary computer</h3>
            <p>
              The model is a compact EfficientNet-Lite network. It needs no graphics card: an everyday CPU reads an
              X-ray in a few seconds.
            </p>
          </li>
          <li className="card">
            <h3>A heatmap that shows where it looked</h3>
            <p>
              A Grad-CAM heatmap highlights the regions of the lungs that weighed most in the answer, so you can see
              whether the model looked at the right place.
            </p>
          </li>
          <li className="card">
            <h3>Works without the internet</h3>
            <p>
              Everything runs on a local server. Images and patient details never leave the building, and the tool keeps
              working when the connection does not.
            </p>
          </li>
        </ul>
      </section>

      <section aria-labelledby="pneumonia-title" className="section">
        <h2 id="pneumonia-title">Understanding pneumonia</h2>
        <div className="columns">
          <div>
            <h3>What it is</h3>
            <p>
              Pneumonia is an infection that inflames the air sacs (alveoli) of one or both lungs. They fill with fluid
              or pus, which makes breathing hard and lowers the oxygen in the blood. Bacteria, viruses and fungi can all
              cause it.
            </p>
          </div>
          <div>
            <h3>Why early detection matters</h3>
            <p>
              Pneumonia is a leading infectious cause of death in children under five worldwide. Found early, most cases
              respond well to treatment; found late, a child may need hospital care or oxygen. Fast screening helps the
              sickest children be seen first.
            </p>
          </div>
          <div>
            <h3>What a chest X-ray shows</h3>
            <p>
              Healthy lungs are full of air and look dark on an X-ray. Inflamed lung tissue is denser and shows as white
              patches (opacities or consolidation), sometimes with fluid around the lung. Reading these patterns takes
              practice, and that is where a second look helps.
            </p>
          </div>
        </div>
      </section>

      <section aria-labelledby="use-title" className="section">
        <h2 id="use-title">Intended use and its limits</h2>
        <div className="notice notice--info">
          <p>
            <strong>Intended use:</strong> screening support for frontal (PA or AP) chest X-rays of children, to help a
            clinician prioritise and review images.
          </p>
          <p>
            <strong>Not a diagnosis.</strong> PneumoScan does not replace a clinician&apos;s reading. It was trained on
            pediatric chest X-rays from one source, can be wrong, and has not been validated on adults, on other views,
            or on other kinds of images. It refuses images that do not look like chest X-rays.
          </p>
          <p>
            See the <Link href="/model/">model card</Link> for its measured accuracy and the data it learned from.
          </p>
        </div>
      </section>
    </>
  );
}
