// The composition root (package.json "main"): importing each folder registers its functions.
import './triggers';
