import type { Metadata } from "next";
import { ExamPage } from "../ui/exam/ExamPage";

export const metadata: Metadata = { title: "New examination" };

export default function Page() {
  return <ExamPage />;
}
