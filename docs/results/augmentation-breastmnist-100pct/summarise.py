# The BreastMNIST 100 % study's summary (summary.txt), through the shared script.
import subprocess, sys
subprocess.run([sys.executable, "scripts/summarise_augmentation_study.py", "/tmp/study4/runs",
                "real=546 real, 8 epochs (272 steps)", "syn1=546 real + 546 synthetic (ratio 1), 4 epochs (272 steps)",
                "syn05=546 real + 273 synthetic (ratio 0.5), 5 epochs (255 steps)"], check=True)
