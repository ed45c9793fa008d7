"""The GitHub Action's logic, run by the steps of `action.yml`."""
