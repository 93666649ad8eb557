// The report page's print button: the browser's print view makes the PDF (console.css
// @media print hides the form and header links).
document.getElementById("print")?.addEventListener("click", () => window.print());
