"""explorer: Optuna Pareto sweeps over FastVLM configurations, Pareto math, recommend / export.

Composes `fastvlm` (configs, measurement, proxies); `dashboard` reads what it stores.
"""
