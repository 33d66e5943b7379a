"""Reports: summary tables, timeline (Gantt) plots and Perfetto traces."""
