"""Fix: the smallest pin change that makes a failed combination pass, proven by real runs (docs/fix.md)."""
