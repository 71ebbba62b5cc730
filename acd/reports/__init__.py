"""Reports and staffing: KPI definitions, Erlang C/A, SQL reports, forecasts."""
