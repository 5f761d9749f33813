"""The pure domain: values, formulas, statistics, errors. No driver, no GraphQL, no HTTP."""
