"use client";
import { getModelCard } from "@/lib/api";
import { useApi } from "@/lib/use-api";
import { ErrorNotice } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";
import { ModelCardView } from "./ModelCardView";

export function ModelPage() {
  const card = useApi((signal) => getModelCard(signal), []);
  if (card.status === "loading") return <Skeleton lines={8} label="Loading the model card…" />;
  if (card.status === "error")
    return <ErrorNotice error={card.error} title="The model card could not be loaded" onRetry={card.reload} />;
  return <ModelCardView card={card.data} />;
}
