"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { loginHref, useAuth } from "../auth/AuthProvider";

const LINKS = [
  { href: "/", label: "Home" },
  { href: "/exam/", label: "New examination" },
  { href: "/worklist/", label: "Worklist" },
  { href: "/patients/", label: "Patients" },
  { href: "/model/", label: "Model" },
] as const;

function isCurrent(pathname: string, href: string): boolean {
  const p = pathname.endsWith("/") ? pathname : `${pathname}/`;
  if (href === "/") return p === "/";
  // A patient's page belongs to "Patients"; a result or report to neither.
  if (href === "/patients/") return p === "/patients/" || p === "/patient/";
  return p === href;
}

function Account() {
  const { state, signOut } = useAuth();
  if (state.status === "signed-in")
    return (
      <div className="account">
        <span className="account__name" data-testid="signed-in-user">
          {state.user.username}
          <span className="visually-hidden"> is signed in</span>
        </span>
        <button type="button" className="account__button" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    );
  if (state.status === "signed-out")
    return (
      <div className="account">
        <Link className="account__button" href={loginHref()}>
          Sign in
        </Link>
      </div>
    );
  return null;
}

export function SiteHeader() {
  const pathname = usePathname() ?? "/";
  const { state } = useAuth();
  const links: { href: string; label: string }[] = [...LINKS];
  if (state.status === "signed-in" && state.user.role === "admin")
    links.push({ href: "/admin/", label: "Administration" });
  return (
    <header className="site-header">
      <div className="site-header__inner">
        <Link href="/" className="brand" aria-label="PneumoScan home">
          <span className="brand__mark" aria-hidden="true">
            ◐
          </span>
          <span className="brand__name">PneumoScan</span>
        </Link>
        <nav aria-label="Main">
          <ul className="nav">
            {links.map((l) => {
              const current = isCurrent(pathname, l.href);
              return (
                <li key={l.href}>
                  <Link href={l.href} className="nav__link" aria-current={current ? "page" : undefined}>
                    {l.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <Account />
      </div>
    </header>
  );
}
