import type { Metadata, Viewport } from "next";
import { AuthProvider } from "./ui/auth/AuthProvider";
import { SiteHeader } from "./ui/nav/SiteHeader";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "PneumoScan", template: "%s · PneumoScan" },
  description:
    "Pneumonia screening support for pediatric chest X-rays: a probability, a heatmap of where the model looked, and a printable report.",
};

export const viewport: Viewport = {
  width: "device-width",
  initialScale: 1,
  themeColor: "#0b5e6b",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a href="#main" className="skip-link">
          Skip to main content
        </a>
        <AuthProvider>
          <SiteHeader />
          <main id="main" className="container" tabIndex={-1}>
            {children}
          </main>
        </AuthProvider>
        <footer className="site-footer">
          <div className="container">
            <p>
              PneumoScan supports screening of pediatric chest X-rays. It does not make a diagnosis: a clinician reads
              every image and decides.
            </p>
          </div>
        </footer>
      </body>
    </html>
  );
}
