# The BreastMNIST 10 % study's summary (summary.txt), through the shared script.
import subprocess, sys
subprocess.run([sys.executable, "scripts/summarise_augmentation_study.py", "/tmp/study2/runs",
                "real=55 real, 20 epochs (60 steps)", "syn05=55 real + 28 synthetic (ratio 0.5), 12 epochs",
                "syn1=55 real + 55 synthetic (ratio 1), 10 epochs", "syn2=55 real + 110 synthetic (ratio 2), 6 epochs",
                "cas=120 synthetic only (CAS), 9 epochs", "syn1e20=55 real + 55 synthetic, 20 epochs (120 steps)",
                "real40=55 real, 40 epochs (120 steps: the control for syn1e20)"], check=True)
