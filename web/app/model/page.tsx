import type { Metadata } from "next";
import { ModelPage } from "../ui/model/ModelPage";

export const metadata: Metadata = { title: "Model card" };

export default function Page() {
  return <ModelPage />;
}
