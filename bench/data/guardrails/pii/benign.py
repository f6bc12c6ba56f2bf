# ruff: noqa: E501  (one lambda a field reads best on one line)
"""Write the benign look-alike sentences: no PII, but full of what PII detectors mistake.

    .venv/bin/python bench/data/guardrails/pii/benign.py [dev|test|test2|test3 ...]

Order numbers, dates, times, versions, prices, tracking codes, hashes, long integers,
capitalised common words ("Apple", "Will", "May", "Bill"), product names and sentence
starts. Three disjoint template sets and seeds: benign_dev.txt (tuned on),
benign_test.txt and benign_test2.txt (only measured). Standard library only.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from string import Formatter

HERE = Path(__file__).parent

DEV = [
    "Order {order} shipped on {date} and should arrive by {weekday}.",
    "Upgrade to version {version} before {date}; {version2} is no longer supported.",
    "The total came to ${price} including tax, invoice {invoice}.",
    "Will the {product} ship in May or June?",
    "Apple and Microsoft both reported earnings on {date}.",
    "Bill me later for the {product}; my budget resets in April.",
    "The meeting is at {time} on {weekday}, room {room}.",
    "Tracking number {tracking} shows the parcel in transit.",
    "Build {build} passed all {count} tests in {seconds} seconds.",
    "Python {pyver} and Node {nodever} are both installed.",
    "Set the timeout to {count} ms and retry {small} times.",
    "The population grew by {big} people between {year} and {year2}.",
    "Ticket #{ticket} was closed as a duplicate of #{ticket2}.",
    "Commit {sha} fixed the regression from release {version}.",
    "Our Q{small} revenue was {big} dollars, up {pct}% on the year.",
    "May I ask whether the Grand Canyon tour starts at {time}?",
    "Mark the item as done once the Black Friday sale ends.",
    "The Kindle Paperwhite costs ${price} and the Echo Dot ${price2}.",
    "Please read chapter {small}.{small2} of the Rust Book.",
    "The SKU {sku} is out of stock until {date}.",
    "Reference {ref} applies to the {product} warranty.",
    "Windows {winver} update KB{kb} failed with error 0x{hexcode}.",
    "Coordinates {lat}, {lon} are in the middle of the ocean.",
    "Our Customer Success team will reply within {small} business days.",
    "The Great Depression began in {year}.",
]
TEST = [
    "Your booking {order} for {date} at {time} is confirmed.",
    "We are on release {version}, the changelog lists {count} fixes.",
    "The bill of ${price} is due on {date}.",
    "Hope the new {product} is worth ${price}.",
    "Amazon Prime Day starts on {weekday}, {date}.",
    "Account tier Gold renews every {small} months for ${price2}.",
    "The patch {version} replaces {version2} from {year}.",
    "Part number {sku} fits models {small}00 to {small2}99.",
    "Serial {tracking} is registered to the Sales department.",
    "Error code {hexcode} appears after {seconds} seconds.",
    "Docker {nodever} ships with Compose {pyver}.",
    "The file is {big} bytes, checksum {sha}.",
    "Invoice {invoice} totals ${price} across {count} lines.",
    "Summer Sale prices drop {pct}% on {date}.",
    "Grace periods end after {small} days under Policy {ref}.",
    "The Golden Gate Bridge opened in {year}.",
    "Press Ctrl+{small} to open the Quick Actions menu.",
    "Run the job at {time} every {weekday}, batch {build}.",
    "Flight time is {small}h {small2}m, gate B{small}.",
    "Visit the Help Center or the Developer Portal for details.",
]
# The second held-out set (written before further tuning, measured once at the end).
TEST2 = [
    "Release {version} of the SDK drops support for API level {small}{small2}.",
    "Download {big} records from shard {build} before {date}.",
    "Receipt {invoice}: {count} items, ${price} paid by cash.",
    "The cluster runs kernel {version} on {count} nodes.",
    "Shipment {tracking} left the warehouse at {time}.",
    "Order {order} and order {order2} were merged.",
    "Grant ID {ref} funds the project until {year}.",
    "Patch Tuesday brought KB{kb} and build {build}.",
    "The ISBN is 978-{small}-{ticket}-{small2}, second edition.",
    "The Eiffel Tower draws {big} visitors a year, says the Tourism Office.",
    "Hash {sha} matches the published checksum for {product}.",
    "Mean latency fell from {seconds} ms to {pct} ms after {date}.",
    "Summer Camp registration closes on {weekday} at {time}.",
    "The Lord of the Rings box set is {pct}% off until {date}.",
    "Version string: {pyver}-rc{small}, commit {sha}.",
    "Rule {small}.{small2}.{count} of the Style Guide covers commas.",
]
# The third held-out set, written with test3 before the name classifier was trained:
# capitalised look-alikes of names and places (brands, titles, teams, holidays, menus).
TEST3 = [
    "The Ford Focus and the Honda Civic both passed inspection on {date}.",
    "Open Settings, then Privacy and Security, and restart after {seconds} seconds.",
    "Happy Thanksgiving from the Customer Care team!",
    "The Rolling Stones played {count} shows on the Voodoo Lounge tour.",
    "Manchester United beat Real Madrid {small}-{small2} in the final.",
    "Our Black Forest cake costs ${price} at the Corner Bakery.",
    "Read the Terms of Service before clicking Accept.",
    "The Harry Potter box set is back in stock, order {order}.",
    "Team Phoenix ships build {build} on {weekday}.",
    "The Silicon Valley startup raised ${price} million in Series B.",
    "Mother's Day falls on {date} this year.",
    "The Great Barrier Reef lost {pct}% of its coral since {year}.",
    "Click Save As, pick Desktop, and name the file Report Final.",
    "Professor Layton and the Curious Village is a puzzle game from {year}.",
    "The Golden State Warriors sold {big} tickets last season.",
    "New York Times bestsellers this week: {count} novels, {small} memoirs.",
]

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PRODUCTS = ["iPhone 15 Pro", "Galaxy S24", "ThinkPad X1", "Surface Laptop", "PlayStation 5",
            "MacBook Air", "Pixel 8", "Model Y", "Xbox Series X", "Fire TV Stick"]


def _date(r: random.Random) -> str:
    y, m, d = r.randint(1990, 2030), r.randint(1, 12), r.randint(1, 28)
    return r.choice([f"{y}-{m:02d}-{d:02d}", f"{m}/{d}/{y}", f"{d:02d}.{m:02d}.{y}",
                     f"{d}/{m}/{y}", f"{d:02d}-{m:02d}-{y}", f"{y}/{m:02d}/{d:02d}",
                     f"{d} {r.choice(['Jan', 'Mar', 'July', 'Sept', 'December'])} {y}"])


def _value(field: str, r: random.Random) -> str:
    f = field.rstrip("0123456789")
    values = {
        "order": lambda: r.choice([f"#{r.randint(10**6, 10**10)}", f"ORD-{r.randint(1000, 99999)}",
                                   f"{r.randint(100, 999)}-{r.randint(1000000, 9999999)}",
                                   str(r.randint(10**9, 10**12))]),
        "date": lambda: _date(r),
        "weekday": lambda: r.choice(WEEKDAYS),
        "version": lambda: ".".join(str(r.randint(0, 20)) for _ in range(r.choice([2, 3, 4]))),
        "price": lambda: f"{r.randint(1, 9999):,}.{r.randint(0, 99):02d}",
        "invoice": lambda: r.choice([f"INV-{r.randint(10**4, 10**8)}", str(r.randint(10**7, 10**9))]),
        "product": lambda: r.choice(PRODUCTS),
        "time": lambda: r.choice([f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
                                  f"{r.randint(1, 12)}:{r.randint(0, 59):02d} pm",
                                  f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"]),
        "room": lambda: f"{r.randint(1, 9)}.{r.randint(100, 999)}",
        "tracking": lambda: r.choice([f"1Z{r.randint(10**15, 10**16)}",
                                      " ".join(str(r.randint(1000, 9999)) for _ in range(3)),
                                      str(r.randint(10**11, 10**13))]),
        "build": lambda: r.choice([f"{r.randint(1, 30)}.{r.randint(0, 9)}.{r.randint(100, 99999)}",
                                   str(r.randint(1000, 999999))]),
        "count": lambda: str(r.randint(2, 5000)),
        "seconds": lambda: f"{r.randint(0, 999)}.{r.randint(0, 99)}",
        "pyver": lambda: f"3.{r.randint(6, 13)}.{r.randint(0, 12)}",
        "nodever": lambda: f"{r.randint(12, 24)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
        "small": lambda: str(r.randint(1, 9)),
        "big": lambda: r.choice([f"{r.randint(10**5, 10**9):,}", str(r.randint(10**5, 10**10))]),
        "year": lambda: str(r.randint(1900, 2030)),
        "ticket": lambda: str(r.randint(100, 999999)),
        "sha": lambda: "".join(r.choice("0123456789abcdef") for _ in range(r.choice([7, 12, 40]))),
        "pct": lambda: f"{r.randint(1, 99)}.{r.randint(0, 9)}",
        "sku": lambda: r.choice([f"{r.randint(100, 999)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}X",
                                 f"SKU{r.randint(10**5, 10**8)}",
                                 f"{r.randint(10, 99)}-{r.randint(1000, 9999)}-{r.randint(10, 99)}"]),
        "ref": lambda: f"{r.choice(['REF', 'PX', 'AB'])}{r.randint(10, 99)}-{r.randint(1000, 99999)}",
        "winver": lambda: r.choice(["10", "11", "10.0.19045.3570", "11 23H2"]),
        "kb": lambda: str(r.randint(4000000, 5999999)),
        "hexcode": lambda: "".join(r.choice("0123456789ABCDEF") for _ in range(8)),
        "lat": lambda: f"{r.uniform(-89, 89):.5f}",
        "lon": lambda: f"{r.uniform(-179, 179):.5f}",
    }
    return values[f]()


def render(templates: list[str], count: int, seed: int) -> list[str]:
    r = random.Random(seed)
    out = []
    for _ in range(count):
        template = r.choice(templates)
        # In template order: a set's order follows PYTHONHASHSEED, and benign_dev.txt and
        # benign_test.txt were written that way (so they cannot be rewritten identically).
        fields = dict.fromkeys(name for _, name, _, _ in Formatter().parse(template) if name)
        out.append(template.format(**{name: _value(name, r) for name in fields}))
    return out


def main(splits: list[str]) -> None:
    plans = {"dev": (DEV, 5), "test": (TEST, 1234), "test2": (TEST2, 4242),
             "test3": (TEST3, 9001)}
    for split in splits or list(plans):
        templates, seed = plans[split]
        lines = render(templates, 1000, seed)
        (HERE / f"benign_{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(split, len(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
