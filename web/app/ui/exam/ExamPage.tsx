"use client";
import { useRouter } from "next/navigation";
import { ExamForm } from "./ExamForm";

export function ExamPage() {
  const router = useRouter();
  return <ExamForm onDone={(study) => router.push(`/study/?id=${study.id}`)} />;
}
