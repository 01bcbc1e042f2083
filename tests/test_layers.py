"""No import circle between Kassa's modules: every module can be read, tested and replaced
from the bottom up. import-linter holds the direction of the layers (`make lint`); this holds
the modules inside them, TYPE_CHECKING imports included, since an annotation that needs a
circle is a design that needs one."""

from __future__ import annotations

from collections.abc import Iterator

import grimp

PACKAGES = ("bot", "handlers", "booking", "storage", "locales")


def import_circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, without recursion),
    each sorted, the largest first."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    # The depth-first path: each module with an iterator over the imports still to visit.
    work: list[tuple[str, Iterator[str]]] = []

    def visit(module: str) -> None:
        index[module] = lowlink[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        work.append((module, iter(sorted(graph.find_modules_directly_imported_by(module)))))

    for root in sorted(graph.modules):
        if root in index:
            continue
        visit(root)
        while work:
            module, imports = work[-1]
            for imported in imports:
                if imported not in index:
                    visit(imported)
                    break
                if imported in on_stack:
                    lowlink[module] = min(lowlink[module], index[imported])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[module])
                if lowlink[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return sorted(circles, key=lambda c: (-len(c), c))


def describe(graph: grimp.ImportGraph, circle: list[str]) -> str:
    """The circle's modules and the imports that tie them, with line numbers."""
    members = set(circle)
    lines = [f"import circle of {len(circle)} modules: {', '.join(circle)}"]
    for importer in circle:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            details = graph.get_import_details(importer=importer, imported=imported)
            where = ", ".join(str(d["line_number"]) for d in details)
            lines.append(f"  {importer} -> {imported} (line {where})")
    return "\n".join(lines)


def test_no_import_circle() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    circles = import_circles(graph)
    report = "\n".join(describe(graph, c) for c in circles)
    if report:
        print(report)
    assert circles == [], report


def test_circles_are_found() -> None:
    """The search itself: a circle of three, a pair, and modules outside any circle."""
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"),  # a -> b -> c -> a
        ("p.c", "p.d"), ("p.d", "p.e"),  # d and e hang off the circle
        ("p.x", "p.y"), ("p.y", "p.x"),
    ]:
        graph.add_import(importer=importer, imported=imported)
    assert import_circles(graph) == [["p.a", "p.b", "p.c"], ["p.x", "p.y"]]
