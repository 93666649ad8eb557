import QtQuick
import QtQuick.Layouts

// The kiosk: choose a service, get a ticket. Everything it shows comes from the injected
// `kiosk` controller (nowserving.kiosk.app.KioskController); it never waits on anything.
Rectangle {
    id: root
    required property var kiosk
    // Every size is a multiple of `unit`: large print makes everything half as large again.
    readonly property real unit: Math.max(10, Math.min(width, height) / 36)
                                 * (kiosk.largePrint ? 1.5 : 1)
    readonly property bool portrait: height > width
    readonly property var s: kiosk.strings
    // "I have an appointment" on the start screen: some service takes bookings.
    readonly property bool checkInWanted: kiosk.bookable && kiosk.closedText === ""
                                          && kiosk.groupName === ""
    color: "#0b1f3a"

    // How `count` buttons are laid out in `w` x `h`: all at once when the best columns
    // leave none lower than `lowest`; else in pages of as many rows as fit above a pager
    // (`pagerHeight`). {columns, perPage}.
    function layoutFor(count, w, h, gap, lowest, pagerHeight) {
        const c = columnsFor(count, w, h, gap)
        const r = Math.ceil(count / c)
        if ((h - (r - 1) * gap) / r >= lowest)
            return { columns: c, perPage: Math.max(1, count) }
        const room = h - pagerHeight
        const rows = Math.max(1, Math.floor((room + gap) / (lowest + gap)))
        // As many columns as keep each button at least 3 times as wide as it is low: the
        // most services a page can show at the size it must have.
        let columns = 1
        while (columns < count && (w - columns * gap) / (columns + 1) >= 3 * lowest)
            columns++
        return { columns: columns, perPage: columns * rows }
    }

    // How many columns lay `count` buttons out best in `w` x `h`: the largest buttons of
    // about 2.4:1 (a name over a line of detail), whatever the screen's shape.
    function columnsFor(count, w, h, gap) {
        let best = 1, bestScore = -1
        for (let c = 1; c <= Math.max(1, count); c++) {
            const r = Math.ceil(count / c)
            const bw = (w - (c - 1) * gap) / c, bh = (h - (r - 1) * gap) / r
            const score = Math.min(bw / 2.4, bh)
            if (score > bestScore + 0.5) { bestScore = score; best = c }
        }
        return best
    }

    // ----- header: branch, clock, language, offline mark --------------------------
    // One row; in portrait and in large print two (the branch, offline mark and clock over
    // large print and the languages): they cannot all be side by side there.
    GridLayout {
        id: header
        anchors { top: parent.top; left: parent.left; right: parent.right; margins: root.unit }
        columns: root.portrait || root.kiosk.largePrint ? 3 : 4
        rowSpacing: root.unit * 0.5
        columnSpacing: root.unit
        Text {
            text: root.kiosk.branchName
            color: "#ffffff"
            font.pixelSize: root.unit * 2
            font.bold: true
            fontSizeMode: Text.Fit  // a long name gets smaller (two lines), never cut
            minimumPixelSize: root.unit * 1.0
            wrapMode: Text.Wrap
            verticalAlignment: Text.AlignVCenter
            Layout.fillWidth: true
            Layout.preferredHeight: root.unit * 3.8
        }
        Rectangle {
            visible: !root.kiosk.online
            color: "#9b1c1c"
            radius: height / 2
            implicitHeight: root.unit * 2.2
            implicitWidth: offlineText.implicitWidth + root.unit * 1.6
            Text {
                id: offlineText
                anchors.centerIn: parent
                text: root.s.offline
                color: "#ffffff"
                font.pixelSize: root.unit * 1.1
            }
        }
        Text {
            id: clock
            color: "#ffffff"
            font.pixelSize: root.unit * 1.6
            text: root.kiosk.clock.text  // the branch's time, not the device's
        }
        // Large print and the languages: on the first row, or the whole second one (where
        // they share its width: a long label gets smaller before one leaves the screen).
        RowLayout {
            Layout.columnSpan: root.portrait || root.kiosk.largePrint ? 3 : 1
            Layout.fillWidth: Layout.columnSpan > 1
            Layout.alignment: Qt.AlignRight
            spacing: root.unit
            Rectangle {  // large print, on and off
                objectName: "large-print"
                implicitWidth: Math.max(largeText.implicitWidth + root.unit * 2, root.unit * 3.8)
                implicitHeight: root.unit * 3.8
                Layout.fillWidth: true
                Layout.maximumWidth: implicitWidth
                Layout.minimumWidth: root.unit * 3.8
                radius: root.unit * 0.5
                color: root.kiosk.largePrint ? "#ffffff" : "transparent"
                border.color: "#ffffff"
                border.width: 2
                Text {
                    id: largeText
                    anchors.centerIn: parent
                    width: Math.min(implicitWidth, parent.width - root.unit)
                    horizontalAlignment: Text.AlignHCenter
                    fontSizeMode: Text.HorizontalFit
                    minimumPixelSize: root.unit
                    text: root.s.large_print
                    color: root.kiosk.largePrint ? "#0b1f3a" : "#ffffff"
                    font.pixelSize: root.unit * 1.4
                    font.bold: true
                }
                MouseArea {
                    anchors.fill: parent
                    onClicked: root.kiosk.setLargePrint(!root.kiosk.largePrint)
                }
            }
            Repeater {
                model: root.kiosk.languages
                delegate: Rectangle {
                    required property var modelData
                    readonly property bool current: modelData.code === root.kiosk.language
                    objectName: "language-" + modelData.code
                    implicitWidth: Math.max(label.implicitWidth + root.unit * 2, root.unit * 3.8)
                    implicitHeight: root.unit * 3.8  // a 9 mm touch target on a 7" screen
                    Layout.fillWidth: true
                    Layout.maximumWidth: implicitWidth
                    Layout.minimumWidth: root.unit * 3.8
                    radius: root.unit * 0.5
                    color: current ? "#ffffff" : "transparent"
                    border.color: "#ffffff"
                    border.width: 2
                    Text {
                        id: label
                        anchors.centerIn: parent
                        width: Math.min(implicitWidth, parent.width - root.unit)
                        horizontalAlignment: Text.AlignHCenter
                        fontSizeMode: Text.HorizontalFit
                        minimumPixelSize: root.unit
                        text: modelData.label
                        color: parent.current ? "#0b1f3a" : "#ffffff"
                        font.pixelSize: root.unit * 1.4
                        font.bold: true
                    }
                    MouseArea {
                        anchors.fill: parent
                        onClicked: root.kiosk.setLanguage(parent.modelData.code)
                        // Held: the audio guide, in this language (docs/kiosk.md).
                        onPressAndHold: root.kiosk.startGuide(parent.modelData.code)
                    }
                }
            }
        }
    }

    Rectangle {  // from a group's services back to the start screen's
        id: back
        objectName: "back"
        visible: root.kiosk.groupName !== "" && root.kiosk.closedText === ""
        anchors { left: parent.left; verticalCenter: title.verticalCenter
                  leftMargin: root.unit * 1.5 }
        implicitWidth: backText.implicitWidth + root.unit * 2
        implicitHeight: root.unit * 3.8
        radius: root.unit * 0.5
        color: "transparent"
        border.color: "#ffffff"
        border.width: 2
        Text {
            id: backText
            anchors.centerIn: parent
            text: "‹ " + root.s.back
            color: "#ffffff"
            font.pixelSize: root.unit * 1.5
            font.bold: true
        }
        MouseArea { anchors.fill: parent; onClicked: root.kiosk.back() }
    }
    Text {
        id: title
        // Many services: the buttons need the room more than the screen needs a title.
        readonly property bool wanted: root.kiosk.groupName !== "" || root.kiosk.services.count <= 8
        visible: root.kiosk.closedText === "" && wanted
        anchors { top: header.bottom; left: back.visible ? back.right : parent.left
                  right: parent.right; topMargin: root.unit; leftMargin: root.unit
                  rightMargin: root.unit }
        height: wanted ? root.unit * 3.8 : 0
        text: root.kiosk.groupName !== "" ? root.kiosk.groupName : root.s.title
        color: "#ffffff"
        font.pixelSize: root.unit * 2.4
        fontSizeMode: Text.Fit
        minimumPixelSize: root.unit * 1.2
        horizontalAlignment: back.visible ? Text.AlignLeft : Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }

    // ----- the services ---------------------------------------------------------------
    GridLayout {
        id: grid
        objectName: "grid"
        visible: root.kiosk.closedText === ""
        anchors {
            top: title.bottom
            bottom: pager.visible ? pager.top : parent.bottom
            left: parent.left; right: parent.right; margins: root.unit * 1.5
        }
        readonly property int count: root.kiosk.services.count
        // A button is never lower than this (9 mm on a 7" screen; 12 mm in large print):
        // when they do not all fit, they come in pages.
        readonly property real lowest: root.unit * (root.kiosk.largePrint ? 4.2 : 3.6)
        // The room below the title, whether or not a pager takes its bottom.
        readonly property real room: root.height - title.y - title.height - root.unit * 3
                                     - (root.checkInWanted ? root.unit * 5 : 0)  // its row
        readonly property var plan: root.layoutFor(count, root.width - root.unit * 3, room,
                                                   root.unit, lowest,
                                                   root.checkInWanted ? 0 : root.unit * 5)
        readonly property int perPage: plan.perPage
        readonly property int pages: Math.max(1, Math.ceil(count / Math.max(1, perPage)))
        readonly property int rows: Math.ceil(Math.min(count, perPage) / Math.max(1, columns))
        property int page: 0
        onCountChanged: page = 0
        onPagesChanged: page = Math.min(page, pages - 1)
        columns: plan.columns
        rowSpacing: root.unit
        columnSpacing: root.unit
        Repeater {
            model: root.kiosk.services
            delegate: ServiceButton {
                required property int index
                visible: Math.floor(index / grid.perPage) === grid.page  // its page
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: grid.width / grid.columns
                Layout.preferredHeight: grid.height / grid.rows
                Layout.maximumHeight: root.unit * (root.portrait ? 10 : 14)
                unit: root.unit
                onChosen: id => root.kiosk.choose(id)
            }
        }
    }

    // ----- pages of services, when they do not all fit; "I have an appointment" beside ----
    Row {
        id: pager
        visible: grid.visible && (grid.pages > 1 || root.checkInWanted)
        anchors { bottom: parent.bottom; horizontalCenter: parent.horizontalCenter
                  bottomMargin: root.unit }
        spacing: root.unit * (root.portrait ? 1 : 2)  // portrait large print: all in the width
        // A scanned code needs no tap: the kiosk takes it on any screen.
        Rectangle {
            id: checkInEntry
            objectName: "check-in"
            visible: root.checkInWanted
            implicitWidth: Math.min(root.width - root.unit * 3,
                                    Math.max(root.unit * 12, checkInText.implicitWidth + root.unit * 3))
            implicitHeight: root.unit * 3.8
            radius: root.unit * 0.5
            color: "#ffffff"
            Text {
                id: checkInText
                anchors.centerIn: parent
                // Large print beside the pages: the short words (the room is the screen's).
                text: (grid.pages > 1 ? root.s.checkin_short : root.s.checkin_start) + "  ›"
                color: "#10213a"
                font.pixelSize: root.unit * 1.6
                font.bold: true
            }
            MouseArea { anchors.fill: parent; onClicked: root.kiosk.startCheckIn() }
        }
        Repeater {
            model: [{ step: -1, label: "‹ " + root.s.page_back }, { step: 1, label: root.s.page_more + " ›" }]
            delegate: Rectangle {
                required property var modelData
                visible: grid.pages > 1
                objectName: "page-" + (modelData.step > 0 ? "more" : "back")
                readonly property bool usable: grid.page + modelData.step >= 0
                                               && grid.page + modelData.step < grid.pages
                implicitWidth: Math.max(root.unit * (root.portrait ? 7 : 9),
                                        pageText.implicitWidth + root.unit * 2)
                implicitHeight: root.unit * 3.8
                radius: root.unit * 0.5
                color: usable ? "#ffffff" : "transparent"
                border.color: "#ffffff"
                border.width: 2
                Text {
                    id: pageText
                    anchors.centerIn: parent
                    text: parent.modelData.label
                    color: parent.usable ? "#10213a" : "#aab4c3"
                    font.pixelSize: root.unit * 1.5
                    font.bold: true
                }
                MouseArea {
                    anchors.fill: parent
                    enabled: parent.usable
                    onClicked: grid.page += parent.modelData.step
                }
            }
        }
        Text {
            visible: grid.pages > 1
            anchors.verticalCenter: parent.verticalCenter
            text: (grid.page + 1) + " / " + grid.pages
            color: "#ffffff"
            font.pixelSize: root.unit * 1.5
        }
    }

    // ----- closed: when the branch opens again, and no service to tap --------------------
    Text {
        id: closedNote
        objectName: "closed"
        visible: root.kiosk.closedText !== ""
        anchors { top: header.bottom; bottom: parent.bottom; left: parent.left; right: parent.right
                  margins: root.unit * 3 }
        text: root.kiosk.closedText
        color: "#ffffff"
        font.pixelSize: root.unit * 2.6
        font.bold: true
        wrapMode: Text.WordWrap
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }

    // ----- what happens after a tap -----------------------------------------------------
    Rectangle {
        id: overlay
        objectName: "overlay"
        anchors.fill: parent
        visible: root.kiosk.phase !== "choose"
        color: "#0b1f3a"  // opaque: the message must not compete with the buttons
        MouseArea { anchors.fill: parent }  // taps do not reach the buttons below

        // One column; on a landscape screen that could not print, the QR code and "back"
        // beside the words (one above the other, they do not fit a 7" screen in large print).
        GridLayout {
            id: panel
            readonly property bool qrBeside: root.kiosk.phase === "failed" && root.kiosk.hasPage
                                             && !root.portrait
            // The title and the number are over twice the smallest text already: large print
            // leaves them be (grown too, they would not leave room for the rest on a 7" screen).
            readonly property real big: root.unit / (root.kiosk.largePrint ? 1.5 : 1)
            // Every item has its row: one after the other, or (beside) the words in the first
            // column, the QR code over the second's first two rows and "back" below it.
            visible: root.kiosk.phase !== "code"
            anchors.centerIn: parent
            width: parent.width * 0.85
            columns: qrBeside ? 2 : 1
            rowSpacing: root.unit
            columnSpacing: root.unit * 2

            Text {
                Layout.row: 0
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.WordWrap
                color: "#ffffff"
                font.pixelSize: panel.big * 2.4
                font.bold: true
                text: ({
                    "printing": root.s.printing,
                    "done": root.s.take_ticket,
                    "failed": root.s.print_failed,
                    "unavailable": root.s.unavailable,
                    "confirm_late": root.s.late_title,
                    "priority": root.s.priority_title,
                    "phone": root.s.phone_title,
                    "checking": root.s.checking,
                    "early": root.s.checkin_early_title,
                    "not_checked_in": root.s.checkin_refused_title
                })[root.kiosk.phase] || ""
            }
            Text {
                Layout.row: 1
                visible: root.kiosk.ticketNumber !== "" && root.kiosk.phase !== "confirm_late"
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                color: "#f5b301"
                font.pixelSize: panel.big * (root.kiosk.phase === "failed" ? 6 : 8)
                font.bold: true
                text: root.kiosk.ticketNumber
            }
            Text {
                Layout.row: 2
                visible: text !== ""
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.WordWrap
                color: "#ffffff"
                font.pixelSize: root.unit * 1.6
                text: root.kiosk.phase === "confirm_late" ? root.kiosk.lateText
                    : root.kiosk.phase === "failed"
                    ? (root.kiosk.hasPage ? root.s.print_failed_help : root.s.print_failed_help_number)
                    : root.kiosk.phase === "done" || root.kiosk.phase === "unavailable"
                    ? root.kiosk.ticketDetail
                    : root.kiosk.phase === "phone" ? root.s.phone_hint
                    : root.kiosk.phase === "early" || root.kiosk.phase === "not_checked_in"
                    ? root.kiosk.checkInText : ""
            }
            Text {  // the phone number as typed
                Layout.row: 3
                objectName: "phoneDigits"
                visible: root.kiosk.phase === "phone"
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                color: "#f5b301"
                font.pixelSize: root.unit * 2.6
                font.bold: true
                text: root.kiosk.phoneDigits.replace(/(\d{3})(\d{1,4})?(\d{1,4})?(\d*)/,
                    (m, a, b, c, d) => [a, b, c, d].filter(x => x).join(" ")) || "_"
            }
            GridLayout {  // the phone number's keypad
                Layout.row: 4
                visible: root.kiosk.phase === "phone"
                Layout.alignment: Qt.AlignHCenter
                columns: 3
                rowSpacing: root.unit * 0.4
                columnSpacing: root.unit * 0.4
                Repeater {
                    model: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "del", "0"]
                    delegate: Rectangle {
                        required property string modelData
                        objectName: "key-" + modelData
                        implicitWidth: root.unit * 6
                        implicitHeight: root.unit * 2.8
                        radius: root.unit * 0.4
                        color: "#ffffff"
                        Text {
                            anchors.centerIn: parent
                            text: parent.modelData === "del" ? root.s.phone_delete
                                                             : parent.modelData
                            color: "#10213a"
                            font.pixelSize: root.unit * (parent.modelData === "del" ? 1.3 : 2)
                            font.bold: true
                        }
                        MouseArea {
                            anchors.fill: parent
                            onClicked: root.kiosk.pressKey(parent.modelData)
                        }
                    }
                }
            }
            Text {  // what to do next, once the ticket is in hand
                Layout.row: 5
                visible: root.kiosk.phase === "done" && root.kiosk.nextStep !== ""
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.WordWrap
                color: "#f5b301"
                font.pixelSize: root.unit * 1.6
                text: root.kiosk.nextStep
            }
            Image {
                Layout.row: panel.qrBeside ? 0 : 6
                Layout.column: panel.qrBeside ? 1 : 0
                Layout.rowSpan: panel.qrBeside ? 2 : 1
                visible: root.kiosk.phase === "failed" && root.kiosk.hasPage
                Layout.alignment: Qt.AlignCenter
                source: visible ? "image://ticket/qr/" + root.kiosk.ticketNumber : ""
                sourceSize.width: root.unit * 10
                sourceSize.height: root.unit * 10
                smooth: false
            }
            GridLayout {  // the choices: one row of them, or a column for priority classes
                Layout.row: panel.qrBeside ? 2 : 7
                Layout.column: panel.qrBeside ? 1 : 0
                visible: ["confirm_late", "failed", "unavailable", "priority", "phone", "early",
                          "not_checked_in"].indexOf(root.kiosk.phase) >= 0
                Layout.alignment: Qt.AlignHCenter
                id: choices
                // Two side by side where they fit (not in portrait large print): else one
                // over the other, the first on top.
                readonly property real sideBySide: {
                    let width = columnSpacing
                    for (let i = 0; i < choiceButtons.count; i++)
                        width += choiceButtons.itemAt(i) ? choiceButtons.itemAt(i).implicitWidth : 0
                    return width
                }
                columns: root.kiosk.phase === "priority" || sideBySide > panel.width ? 1 : 2
                rowSpacing: root.unit
                columnSpacing: root.unit * 2
                Repeater {
                    id: choiceButtons
                    // Late: "back" is the first, highlighted choice; taking a ticket that may
                    // not be served today is the second. Priority: each class the branch
                    // offers, then a regular ticket.
                    model: root.kiosk.phase === "confirm_late"
                        ? [{ text: root.s.back, action: "back", primary: true },
                           { text: root.s.late_take, action: "take", primary: false }]
                        : root.kiosk.phase === "priority"
                        ? root.kiosk.priorityChoices.map(c => (
                              { text: c.label, action: "priority", value: c.id, primary: true }))
                              .concat([{ text: root.s.priority_none, action: "priority",
                                         value: "", primary: false }])
                        : root.kiosk.phase === "phone"
                        ? [{ text: root.s.phone_skip, action: "phone_skip", primary: false },
                           { text: root.s.phone_ok, action: "phone_ok", primary: true,
                             enabled: root.kiosk.phoneComplete }]
                        : root.kiosk.phase === "early"
                        ? [{ text: root.s.back, action: "back", primary: true },
                           { text: root.s.checkin_walk_in, action: "walk_in", primary: false }]
                        : [{ text: root.s.back, action: "back", primary: true }]
                    delegate: Rectangle {
                        required property var modelData
                        objectName: "choice-" + modelData.action + "-" + (modelData.value || "")
                        Layout.alignment: Qt.AlignHCenter
                        implicitWidth: Math.min(root.width * 0.8,
                                                Math.max(root.unit * 12, choice.implicitWidth + root.unit * 3))
                        implicitHeight: Math.max(root.unit * 4.5, choice.implicitHeight + root.unit * 1.5)
                        radius: root.unit * 0.6
                        color: modelData.primary ? "#f5b301" : "#ffffff"
                        opacity: modelData.enabled === false ? 0.4 : 1
                        Text {
                            id: choice
                            anchors.centerIn: parent
                            width: Math.min(implicitWidth, root.width * 0.8 - root.unit * 3)
                            text: parent.modelData.text
                            color: "#10213a"
                            font.pixelSize: root.unit * 1.6
                            font.bold: true
                            wrapMode: Text.WordWrap
                            horizontalAlignment: Text.AlignHCenter
                        }
                        MouseArea {
                            anchors.fill: parent
                            onClicked: {
                                const choice = parent.modelData
                                if (choice.action === "take") root.kiosk.confirmLate()
                                else if (choice.action === "phone_ok") root.kiosk.givePhone()
                                else if (choice.action === "phone_skip") root.kiosk.skipPhone()
                                else if (choice.action === "walk_in") root.kiosk.walkIn()
                                else if (choice.action === "priority")
                                    root.kiosk.choosePriority(choice.value)
                                else root.kiosk.back()
                            }
                        }
                    }
                }
            }
        }
    }

    CheckIn {  // the booking code's keypad
        anchors.fill: parent
        visible: root.kiosk.phase === "code"
        kiosk: root.kiosk
        unit: Math.min(root.unit, root.height / 34)  // large print, where it fits
    }

    MouseArea {  // the audio guide: a touch anywhere on the number's screen says it again
        anchors.fill: parent
        enabled: root.kiosk.guideOn
                 && (root.kiosk.phase === "done" || root.kiosk.phase === "failed")
        onClicked: root.kiosk.guideAgain()
    }
}
