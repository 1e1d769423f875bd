"""Audio-text scorers (CLAP-shaped): alignment and the stage features LPAPS uses."""
