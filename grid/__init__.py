"""The physical grid: networks, profiles, node models and power flow."""
