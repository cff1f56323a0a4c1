"""WTForms classes (Flask-WTF, CSRF on), one module per area."""
